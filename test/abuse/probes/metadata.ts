// Row 1: metadata nested thousands of levels deep. Then the 0-byte chunk, and the listing, status and
// manifest that used to answer 500 to everyone for good; deeper still, the create itself.
import type { ProbeSpec } from '../support/harness.js';
import { createUpload, putChunk } from '../support/ferry.js';

/** A create body whose metadata is `{"a":[[[...]]]}`, `depth` arrays deep: two bytes a level, so 8,000 levels fit the 16 KiB metadata limit. */
function nestedCreate(name: string, depth: number): string {
  return `{"name":${JSON.stringify(name)},"size":0,"metadata":{"a":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
}

export const metadataProbe: ProbeSpec = {
  id: 'metadata',
  title: '`metadata` nested 4,000 levels deep in a create, then the 0-byte chunk; 8,000 and 30,000 levels',
  bound: 'nested metadata refused with 400; `GET /files`, status and manifest never 5xx; 0 5xx',
  async run(env) {
    const http = env.http;
    return env.measure(async () => {
      const create = await createUpload(http, nestedCreate('nested.bin', 4000));
      const chunk = create.status === 201 ? await putChunk(http, create.json.uploadId, 0, Buffer.alloc(0)) : null;
      const after: Record<string, number> = {};
      after.list = (await http.send('GET', '/files')).status;
      if (create.status === 201) {
        after.status = (await http.send('GET', `/uploads/${create.json.uploadId}`)).status;
        const fileId = chunk?.json?.fileId;
        if (fileId) after.manifest = (await http.send('GET', `/files/${fileId}/manifest`)).status;
      }
      // Deeper: as deep as the metadata limit allows, and as deep as the create body limit allows.
      const deeper = await createUpload(http, nestedCreate('deeper.bin', 8000));
      const deepest = await createUpload(http, nestedCreate('deepest.bin', 30_000));
      after.listAgain = (await http.send('GET', '/files')).status;
      const never5xx = Object.values(after).every((s) => s > 0 && s < 500);
      return {
        result: `create 4,000 deep: ${create.status}${chunk ? `, 0-byte chunk ${chunk.status}` : ''}; then list ${after.list}${after.status ? `, status ${after.status}` : ''}${after.manifest ? `, manifest ${after.manifest}` : ''}; create 8,000 deep: ${deeper.status}, 30,000 deep: ${deepest.status}`,
        checks: {
          'nested metadata refused with 400': create.status === 400 && [deeper, deepest].every((a) => a.status >= 400 && a.status < 500),
          'listing, status and manifest answer below 500 afterwards': never5xx,
        },
      };
    });
  },
};
