// Crashes in `npm test` (bounded): the server SIGKILLed 20+ times during one upload at named moments,
// and the CLI SIGKILLed 20 times during one upload. Full sizes run in `npm run chaos`.
import { describe, expect, it } from 'vitest';
import { runClientCrashScenario } from './scenarios/client-crash.js';
import { runServerCrashScenario } from './scenarios/server-crash.js';
import { failures, resultsTable } from './support/report.js';
import { KiB, MiB } from './support/source.js';

describe('crashes', () => {
  it('server killed 24 times during one upload (chunk, completion, creation) and 4 times mid-sweep: nothing acknowledged lost, nothing orphaned', async () => {
    const r = await runServerCrashScenario({ size: 32 * MiB, chunkSize: 256 * KiB, seed: 1, chunkKills: 22, sweepKills: 4, concurrency: 4 });
    expect(failures(r), resultsTable([r])).toEqual([]);
    for (const point of ['create-begun', 'chunk-write', 'chunk-synced', 'chunk-recorded', 'complete-synced', 'complete-renamed']) {
      expect(r.faults[`kill@${point}`], `no kill at ${point}: ${resultsTable([r])}`).toBeGreaterThan(0);
    }
    expect((r.faults['kill@close-unlink'] ?? 0) + (r.faults['kill@close-unlinked'] ?? 0)).toBeGreaterThan(0);
  });

  it('CLI killed 20 times during one upload: each run resumes, re-sending at most what was in flight', async () => {
    const r = await runClientCrashScenario({ size: 32 * MiB, chunkSize: 256 * KiB, seed: 3, kills: 20, concurrency: 4 });
    expect(failures(r), resultsTable([r])).toEqual([]);
  });
});
