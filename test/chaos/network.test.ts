// Network faults in `npm test` (bounded): transfers through the seeded fault proxy, library and CLI.
// The full sizes (1 GiB at three fault levels) run in `npm run chaos` (test/chaos/run.ts).
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/server.js';
import { cliHasDownload, runNetworkScenario } from './scenarios/network.js';
import { failures, resultsTable } from './support/report.js';
import { makeSource, MiB, type SourceFile } from './support/source.js';

let dir: string;
let big: SourceFile;
let small: SourceFile;
beforeAll(async () => {
  dir = await tempDir('ferry-chaos-net-test-');
  [big, small] = await Promise.all([makeSource(dir, 256 * MiB, 11), makeSource(dir, 48 * MiB, 12)]);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('network faults', () => {
  it('library: 256 MiB up and down through medium faults (cuts, stalls past the client timeout, flips, latency)', async () => {
    const results = await runNetworkScenario({ source: big, form: 'library', level: 'medium', chunkSize: 1 * MiB, seed: 11, maxFaults: 40, download: true });
    for (const r of results) expect(failures(r), resultsTable(results)).toEqual([]);
    const [up, down] = results;
    expect(up!.faults.cut).toBeGreaterThan(5);
    // Each cut loses at most the chunks in flight on its connection (two here), each flip one chunk.
    expect(up!.resentBytes!).toBeLessThan(up!.faults.cut! * 2 * MiB + up!.faults.flip! * MiB);
    expect(down!.faults.cut! + down!.faults.flip!).toBeGreaterThan(3);
  });

  it('CLI: 48 MiB up and down through medium faults', async () => {
    const results = await runNetworkScenario({ source: small, form: 'cli', level: 'medium', chunkSize: 1 * MiB, seed: 13, maxFaults: 30, download: cliHasDownload() });
    for (const r of results) expect(failures(r), resultsTable(results)).toEqual([]);
    expect(results[0]!.faults.cut).toBeGreaterThan(2);
  });

  it('library: 48 MiB up and down through high faults (throttled, every connection cut)', async () => {
    const results = await runNetworkScenario({ source: small, form: 'library', level: 'high', chunkSize: 1 * MiB, seed: 14, maxFaults: 30, download: true });
    for (const r of results) expect(failures(r), resultsTable(results)).toEqual([]);
    expect(results[1]!.faults.flip).toBeGreaterThan(0);
  });
});
