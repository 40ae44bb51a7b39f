// Row 8: `Host: evil.example` (and `X-Forwarded-Host`, which no proxy is trusted to set by default)
// must never end up in Location, uploadUrl or fileUrl.
import type { ProbeSpec } from '../support/harness.js';
import { emptyFile } from '../support/ferry.js';

export const hostProbe: ProbeSpec = {
  id: 'host',
  title: '`Host: evil.example` on create, chunk, listing and manifest',
  bound: '"evil.example" in no header or body; 0 5xx',
  async run(env) {
    const http = env.http;
    return env.measure(async () => {
      const seen: string[] = [];
      const statuses: number[] = [];
      const attempts: Array<Record<string, string>> = [{ host: 'evil.example' }, { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' }];
      let completed = 0;
      for (const headers of attempts) {
        const { create, chunk } = await emptyFile(http, { name: 'host.txt' }, headers);
        const answers = [create, ...(chunk ? [chunk] : [])];
        answers.push(await http.send('GET', '/files', { headers }));
        const fileId = chunk?.json?.fileId;
        if (create.status === 201 && fileId) completed++;
        if (fileId) answers.push(await http.send('GET', `/files/${fileId}/manifest`, { headers }), await http.send('GET', `/files/${fileId}`, { headers }));
        if (create.status === 201) answers.push(await http.send('GET', `/uploads/${create.json.uploadId}`, { headers }));
        for (const a of answers) {
          statuses.push(a.status);
          const text = JSON.stringify(a.headers) + a.body.toString('utf8');
          if (text.includes('evil.example')) seen.push(`${a.status} ${Object.keys(headers)[0]}`);
        }
      }
      return {
        result: seen.length ? `echoed in ${seen.length} answers (${seen.slice(0, 3).join(', ')}…)` : `never echoed (answers: ${statuses.join(' ')})`,
        // Only a file that was made can show where its links point.
        checks: { 'the uploads were made': completed === attempts.length, 'an unknown Host never ends up in a URL': seen.length === 0 },
      };
    });
  },
};
