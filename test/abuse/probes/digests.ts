// Row 10: a correct digest spelled in a non-canonical base64 (no padding; the two bits the last
// character carries beyond the 256 set). Decoded, it is the same digest: the chunk must be stored.
import { randomBytes } from 'node:crypto';
import type { ProbeSpec } from '../support/harness.js';
import { createUpload, nonCanonicalDigests, putChunk } from '../support/ferry.js';

export const digestsProbe: ProbeSpec = {
  id: 'digest-spelling',
  title: 'a correct digest in a non-canonical base64 spelling (chunk `Content-Digest`, whole-file `fileDigest`)',
  bound: 'stored (2xx), the file complete; 0 5xx',
  async run(env) {
    const http = env.http;
    return env.measure(async () => {
      const seen: string[] = [];
      let ok = true;
      for (const spelling of ['unpadded', 'loosePadBits'] as const) {
        const bytes = randomBytes(3000);
        const d = nonCanonicalDigests(bytes);
        // The chunk's digest in the odd spelling, the file's in the canonical one; then the other way round.
        for (const where of ['chunk', 'file'] as const) {
          const create = await createUpload(http, { name: `${spelling}-${where}.bin`, size: bytes.length, fileDigest: where === 'file' ? d[spelling] : d.canonical });
          if (create.status !== 201) {
            ok = false;
            seen.push(`${spelling} ${where}: create ${create.status}`);
            continue;
          }
          const ack = await putChunk(http, create.json.uploadId, 0, bytes, { digest: where === 'chunk' ? d[spelling] : d.canonical });
          const complete = ack.status < 300 && ack.json?.complete === true;
          ok &&= complete;
          seen.push(`${spelling} ${where}: ${ack.status}${ack.status < 300 ? (complete ? ' complete' : ' not complete') : ` ${String(ack.json?.type ?? '').split(':').pop()}`}`);
        }
      }
      return { result: seen.join('; '), checks: { 'digests compared as bytes': ok } };
    });
  },
};
