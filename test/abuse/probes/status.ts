// Row 3: 50 concurrent status requests (from as many client addresses) of a 10,000-chunk upload with every other chunk missing (the
// longest possible `missing` list). Status cost must be bounded: /healthz p99 < 50 ms meanwhile.
import type { ProbeOutcome, ProbeSpec } from '../support/harness.js';
import { chunkedUpload, KiB } from '../support/ferry.js';
import { clientAddress, pool } from '../support/traffic.js';

export function statusProbe(o: { chunks?: number; parallel?: number; forMs?: number } = {}): ProbeSpec {
  const chunks = o.chunks ?? 10_000;
  const parallel = o.parallel ?? 50;
  const forMs = o.forMs ?? 8_000;
  return {
    id: 'status',
    title: `${parallel} concurrent status requests (from as many client addresses) of a ${chunks.toLocaleString('en')}-chunk upload with every other chunk missing, for ${forMs / 1000} s`,
    bound: '/healthz p99 < 50 ms; 0 5xx',
    serverArgs: ['--min-chunk-size', '1KiB', '--no-fsync'],
    healthzP99Ms: 50,
    async run(env): Promise<ProbeOutcome> {
      const http = env.http;
      const up = await chunkedUpload(http, { name: 'holes.bin', chunkSize: 1 * KiB, totalChunks: chunks, which: (i) => i % 2 === 0, parallel: 32 });
      if (!up.uploadId || up.refused) return { result: `setup failed: create ${up.create.status}, ${up.refused} chunks refused`, checks: { 'upload made': false } };
      const path = `/uploads/${up.uploadId}`;
      const first = await http.send('GET', path);
      const times: number[] = [];
      const seen: Record<number, number> = {};
      const made = await env.measure(() => pool(parallel, Infinity, async (_, worker) => {
          // One client address per worker: the per-address rate limit is not what is measured here, each request's cost is.
          const a = await http.send('GET', path, { from: clientAddress(worker) });
          times.push(a.ms);
          seen[a.status] = (seen[a.status] ?? 0) + 1;
        }, forMs));
      times.sort((a, b) => a - b);
      return {
        result: `${made} status answers of ${(first.body.length / 1e3).toFixed(0)} kB, each p50 ${times[Math.floor(times.length / 2)]?.toFixed(0)} ms (answers: ${Object.entries(seen).map(([st, n]) => `${n}× ${st}`).join(', ')})`,
        checks: {},
      };
    },
  };
}
