// Row 2: 20–50 concurrent GETs of the manifest of a 10,000-chunk file (about 1 MB of JSON). The
// manifest must not be rebuilt per request (nor block the event loop): /healthz p99 < 50 ms meanwhile,
// and its ETag answers a conditional GET with 304. 1 KiB chunks make the file 10 MB, not 2.5 GB.
import type { ProbeOutcome, ProbeSpec } from '../support/harness.js';
import { chunkedUpload, KiB } from '../support/ferry.js';
import { clientAddress, pool } from '../support/traffic.js';

export function manifestProbe(o: { chunks?: number; parallel?: number; forMs?: number } = {}): ProbeSpec {
  const chunks = o.chunks ?? 10_000;
  const parallel = o.parallel ?? 40;
  const forMs = o.forMs ?? 8_000;
  return {
    id: 'manifest',
    title: `${parallel} concurrent \`GET /files/{id}/manifest\` (from as many client addresses) of a ${chunks.toLocaleString('en')}-chunk file, for ${forMs / 1000} s`,
    bound: '/healthz p99 < 50 ms; ETag → 304; 0 5xx',
    // Chunks this small need a smaller minimum than the default; fsync is irrelevant to reading manifests.
    serverArgs: ['--min-chunk-size', '1KiB', '--no-fsync'],
    healthzP99Ms: 50,
    async run(env): Promise<ProbeOutcome> {
      const http = env.http;
      const up = await chunkedUpload(http, { name: 'many-chunks.bin', chunkSize: 1 * KiB, totalChunks: chunks, parallel: 32 });
      const fileId = up.lastAck?.json?.fileId as string | undefined;
      if (!fileId) return { result: `setup failed: create ${up.create.status}, ${up.refused} chunks refused`, checks: { 'file made': false } };
      const path = `/files/${fileId}/manifest`;
      const first = await http.send('GET', path);
      const times: number[] = [];
      const seen: Record<number, number> = {};
      const made = await env.measure(() =>
        pool(parallel, Infinity, async (_, worker) => {
          // One client address per worker: the per-address rate limit is not what is measured here, each request's cost is.
          const a = await http.send('GET', path, { from: clientAddress(worker) });
          times.push(a.ms);
          seen[a.status] = (seen[a.status] ?? 0) + 1;
        }, forMs),
      );
      const etag = first.headers.etag;
      const again = etag ? await http.send('GET', path, { headers: { 'if-none-match': String(etag) } }) : null;
      times.sort((a, b) => a - b);
      return {
        result: `${made} manifests of ${(first.body.length / 1e6).toFixed(2)} MB, each p50 ${times[Math.floor(times.length / 2)]?.toFixed(0)} ms (answers: ${Object.entries(seen).map(([st, n]) => `${n}× ${st}`).join(', ')}); If-None-Match → ${again?.status ?? 'no ETag'}`,
        checks: { 'ETag answers a conditional GET with 304': again?.status === 304 },
      };
    },
  };
}
