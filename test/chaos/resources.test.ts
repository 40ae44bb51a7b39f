// Resource faults in `npm test` (bounded): a full disk under the CLI, a fuzzer, 100 concurrent
// uploads with duplicate and conflicting PUTs, and slow clients. Longer runs in `npm run chaos`.
import { describe, expect, it } from 'vitest';
import { runConcurrencyScenario } from './scenarios/concurrency.js';
import { runDiskFullScenario } from './scenarios/disk-full.js';
import { runFuzzScenario } from './scenarios/fuzz.js';
import { runSlowClientScenario } from './scenarios/slow-clients.js';
import { failures, resultsTable } from './support/report.js';
import { MiB } from './support/source.js';

describe('resources and inputs', () => {
  it('disk full: the CLI keeps retrying 507 and the same run completes once space is freed', async ({ skip }) => {
    const r = await runDiskFullScenario({ fsSize: '16m', size: 10 * MiB, chunkSize: 1 * MiB, leaveFree: 2.5 * MiB, full507s: 3, seed: 4 });
    if (r.completed === null) {
      // No tmpfs could be mounted (not root, no mount). In CI, where root is available, that is a
      // failure: the test must run there. Elsewhere it is skipped, saying why.
      const why = r.notes.join('; ');
      if (process.env.CI === 'true') throw new Error(`The disk-full scenario must run in CI: ${why}`);
      skip(why);
    }
    expect(r.completed, resultsTable([r])).toBe(true);
    expect(failures(r), resultsTable([r])).toEqual([]);
  });

  it('fuzzer: 1500 bad requests at every endpoint beside valid uploads; < 500, problem+json, no leaks', async () => {
    const r = await runFuzzScenario({ seed: 1, runs: 1500, validUploads: 3, validSize: 1 * MiB });
    expect(failures(r), resultsTable([r])).toEqual([]);
  });

  it('100 simultaneous uploads with duplicate and conflicting PUTs and an operator holding the SQLite lock', async () => {
    const r = await runConcurrencyScenario({ seed: 1, small: 80, large: 20, largeSize: 4 * MiB, duplicates: 300, contested: 10, racers: 5 });
    expect(failures(r), resultsTable([r])).toEqual([]);
  });

  it('slow clients are cut off by the request and idle timeouts while others are served', async () => {
    const r = await runSlowClientScenario({ seed: 1, silent: 200, slowBodies: 10, slowHeaders: 10, normalSize: 16 * MiB, requestTimeoutSeconds: 2, idleTimeoutSeconds: 3 });
    expect(failures(r), resultsTable([r])).toEqual([]);
  });
});
