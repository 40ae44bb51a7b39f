// Row 5: thousands of 1 TiB uploads created by one client. Declared sizes must count against a
// reservation and the free disk (507 when they cannot fit); open uploads and requests per second are
// limited per identity (per address in open mode), answered 429 with Retry-After. A second burst of
// uploads small enough for the disk shows the per-identity limits rather than the disk check.
import type { ProbeSpec } from '../support/harness.js';
import { createUpload, MiB, TiB } from '../support/ferry.js';
import type { Traffic } from '../support/traffic.js';
import { pool } from '../support/traffic.js';

interface Burst {
  accepted: number;
  firstRefusal: number | null;
  refusals: Set<string>;
  wellFormed: boolean;
  seconds: number;
}

async function burst(http: Traffic, count: number, size: number): Promise<Burst> {
  const b: Burst = { accepted: 0, firstRefusal: null, refusals: new Set(), wellFormed: true, seconds: 0 };
  const started = Date.now();
  await pool(16, count, async (i) => {
    const a = await createUpload(http, { name: `big-${i}.bin`, size });
    if (a.status === 201) b.accepted++;
    else if (a.status === 429 || a.status === 507 || (a.status >= 400 && a.status < 500)) {
      b.firstRefusal = Math.min(b.firstRefusal ?? i, i);
      b.refusals.add(`${a.status} ${String(a.json?.type ?? '').split(':').pop()}`);
      const problem = /problem\+json/.test(String(a.headers['content-type']));
      const retryAfter = a.status !== 429 || Number(a.headers['retry-after']) > 0;
      b.wellFormed &&= problem && retryAfter;
    }
  });
  b.seconds = (Date.now() - started) / 1000;
  return b;
}

const text = (b: Burst) =>
  `${b.accepted} accepted in ${b.seconds.toFixed(1)} s${b.firstRefusal !== null ? `, first refusal at #${b.firstRefusal + 1}: ${[...b.refusals].join(', ')}` : ', none refused'}`;

export function createsProbe(count = 2000): ProbeSpec {
  return {
    id: 'creates',
    title: `${count.toLocaleString('en')} creates of 1 TiB uploads from one client, then ${count.toLocaleString('en')} of 100 MiB`,
    bound: 'each burst refused (429 + Retry-After, or 507, as problem+json) before all are accepted; 0 5xx but 507',
    async run(env) {
      return env.measure(async () => {
        const huge = await burst(env.http, count, 1 * TiB);
        const small = await burst(env.http, count, 100 * MiB);
        return {
          result: `1 TiB: ${text(huge)}; 100 MiB: ${text(small)}`,
          checks: {
            'a limit bites before all are accepted': [huge, small].every((b) => b.accepted < count && b.firstRefusal !== null),
            'refusals are problems, 429 with Retry-After': huge.wellFormed && small.wellFormed,
          },
        };
      });
    },
  };
}
