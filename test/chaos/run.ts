// `npm run chaos`: every fault-injection scenario at full size (1 GiB transfers, 20+ kills, long fuzz
// runs), one after another; prints each result as it comes and writes the table into
// docs/reliability.md. `--quick` uses the `npm test` sizes; `--only network,fuzz` picks groups;
// `--form cli` and `--level high` narrow the network group; `--no-write` leaves the document alone.
// The cluster group (3 nodes on PostgreSQL + S3) runs when FERRY_TEST_S3_* name an S3 service.
// Exits 1 if any scenario failed.
import { cpus } from 'node:os';
import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { tempDir } from '../helpers/server.js';
import { runClientCrashScenario } from './scenarios/client-crash.js';
import { runConcurrencyScenario } from './scenarios/concurrency.js';
import { runDiskFullScenario } from './scenarios/disk-full.js';
import { runFuzzScenario } from './scenarios/fuzz.js';
import { cliHasDownload, pendingDownload, runNetworkScenario, type FaultLevel, type Form } from './scenarios/network.js';
import { runServerCrashScenario } from './scenarios/server-crash.js';
import { runSlowClientScenario } from './scenarios/slow-clients.js';
import { failures, resultsTable, writeResultsBlock, type ScenarioResult } from './support/report.js';
import { GiB, KiB, makeSource, MiB } from './support/source.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    form: { type: 'string' },
    level: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
  },
});
const quick = values.quick;
const only = values.only?.split(',');
const want = (group: string) => !only || only.includes(group);

const sizes = quick
  ? { transfer: 48 * MiB, crash: 32 * MiB, crashChunk: 256 * KiB, serverKills: 22, sweepKills: 4, clientKills: 20, fuzzRuns: 1500, large: 4 * MiB, duplicates: 300, contested: 10, racers: 5, silent: 200, slow: 10, normal: 16 * MiB }
  : { transfer: 1 * GiB, crash: 1 * GiB, crashChunk: 1 * MiB, serverKills: 40, sweepKills: 6, clientKills: 30, fuzzRuns: 20_000, large: 32 * MiB, duplicates: 2000, contested: 20, racers: 8, silent: 2000, slow: 50, normal: 256 * MiB };

const results: ScenarioResult[] = [];
function report(r: ScenarioResult | ScenarioResult[]): void {
  for (const one of [r].flat()) {
    results.push(one);
    const failed = failures(one);
    console.log(`${failed.length ? 'FAIL' : 'ok  '} ${one.group}: ${one.name} (${(one.durationMs / 1000).toFixed(1)} s)${failed.length ? ` — ${failed.join('; ')}` : ''}`);
  }
}

const started = Date.now();
if (want('network')) {
  const dir = await tempDir('ferry-chaos-run-');
  try {
    const source = await makeSource(dir, sizes.transfer, 21);
    const download = cliHasDownload();
    for (const form of ['library', 'cli'] as Form[]) {
      if (values.form && values.form !== form) continue;
      for (const [i, level] of (['low', 'medium', 'high'] as FaultLevel[]).entries()) {
        if (values.level && values.level !== level) continue;
        const seed = 21 + i + (form === 'cli' ? 10 : 0);
        const out = await runNetworkScenario({ source, form, level, chunkSize: 1 * MiB, seed, maxFaults: 100_000, download: form === 'library' || download });
        report(out);
        if (form === 'cli' && !download) report(pendingDownload({ form, level, seed, source }));
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
if (want('crash')) {
  report(await runServerCrashScenario({ size: sizes.crash, chunkSize: sizes.crashChunk, seed: 31, chunkKills: sizes.serverKills, sweepKills: sizes.sweepKills, concurrency: 4 }));
  report(await runClientCrashScenario({ size: sizes.crash, chunkSize: sizes.crashChunk, seed: 32, kills: sizes.clientKills, concurrency: 4 }));
}
if (want('cluster')) {
  // Imported here: without FERRY_TEST_S3_* it says why the group is skipped (and throws in CI).
  const { s3Required } = await import('../helpers/s3.js');
  const { runClusterCrashScenario } = await import('./scenarios/cluster-crash.js');
  if (s3Required) console.log(`skip cluster: ${s3Required}`);
  else report(await runClusterCrashScenario(quick ? { size: 256 * MiB, chunkSize: 5 * MiB, seed: 5, kills: 9, concurrency: 4 } : { size: 1 * GiB, chunkSize: 8 * MiB, seed: 35, kills: 30, concurrency: 4 }));
}
if (want('disk')) {
  report(
    quick
      ? await runDiskFullScenario({ fsSize: '16m', size: 10 * MiB, chunkSize: 1 * MiB, leaveFree: 2.5 * MiB, full507s: 3, seed: 41 })
      : await runDiskFullScenario({ fsSize: '64m', size: 48 * MiB, chunkSize: 4 * MiB, leaveFree: 10 * MiB, full507s: 6, seed: 41 }),
  );
}
if (want('fuzz')) report(await runFuzzScenario({ seed: 51, runs: sizes.fuzzRuns, validUploads: quick ? 3 : 10, validSize: quick ? 1 * MiB : 4 * MiB }));
if (want('concurrency')) {
  report(await runConcurrencyScenario({ seed: 61, small: 80, large: 20, largeSize: sizes.large, duplicates: sizes.duplicates, contested: sizes.contested, racers: sizes.racers }));
}
if (want('slow')) {
  report(
    await runSlowClientScenario({ seed: 71, silent: sizes.silent, slowBodies: sizes.slow, slowHeaders: sizes.slow, normalSize: sizes.normal, requestTimeoutSeconds: 2, idleTimeoutSeconds: 3 }),
  );
}

const total = (Date.now() - started) / 1000;
const table = resultsTable(results);
console.log(`\n${table}\n`);
const failed = results.filter((r) => failures(r).length > 0);
const cpu = cpus();
const header = [
  `Last run: ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, \`npm run chaos${process.argv.slice(2).length ? ' -- ' + process.argv.slice(2).join(' ') : ''}\`,`,
  `${cpu.length} × ${cpu[0]?.model.trim() ?? 'CPU'}, Node ${process.version}; ${(total / 60).toFixed(1)} min in all;`,
  failed.length ? `**${failed.length} scenario(s) failed.**` : 'every scenario held.',
].join(' ');
if (!values['no-write'] && !only && !quick) {
  await writeResultsBlock(resolve(import.meta.dirname, '../../docs/reliability.md'), `${header}\n\n${table}`);
  console.log('Wrote the table into docs/reliability.md.');
}
process.exit(failed.length ? 1 : 0);
