// Upload of the generated file: Ferry (CLI, library, fsync off, one chunk at a time) against
// tus-js-client → @tus/server and the raw-PUT reference (with and without fdatasync).
import { curlPut } from '../contenders/upload-curl.js';
import { ferryCliUpload, ferryLibUpload } from '../contenders/upload-ferry.js';
import { tusUpload } from '../contenders/upload-tus.js';
import { alternate, type Contender, type ContenderResult } from '../lib/contender.js';
import { pick, type BenchContext } from '../lib/context.js';
import type { SectionReport, Target } from '../lib/report.js';
import { formatBytes } from '../lib/stats.js';
import { ServerSet, startFerry, startRawPut } from '../servers/spawn.js';
import { factsOf, speedRatio, throughputTable } from './tables.js';

export async function uploadSection(ctx: BenchContext): Promise<SectionReport> {
  const { work, repo, file, options, tools, env } = ctx;
  const servers = new ServerSet();
  try {
    const ferry = await servers.add(startFerry(repo, work.dir('up-ferry')));
    const raw = tools.curl ? await servers.add(startRawPut(repo, work.dir('up-raw-sync'), true)) : null;
    const contenders: Contender[] = [
      ferryCliUpload(env, 'ferry-cli', 'Ferry CLI (defaults)', file, ferry),
      ferryLibUpload(env, 'ferry-lib', 'Ferry library (defaults)', file, ferry),
      curlPut(tools.curl, 'raw-sync', 'curl -T → Node PUT + fdatasync (reference)', file, raw),
    ];
    if (options.baseline) contenders.push(ferryCliUpload(env, 'ferry-cli-baseline', 'Ferry CLI (defaults), baseline build', file, ferry, [], options.baseline));
    if (!options.smoke) {
      const ferryNoSync = await servers.add(startFerry(repo, work.dir('up-ferry-nofsync'), ['--no-fsync']));
      const ferryNodeGc = await servers.add(startFerry(repo, work.dir('up-ferry-node-gc'), [], []));
      const tus = await servers.tusOrSkip(repo, work.dir('up-tus'), ctx.log);
      const rawNoSync = tools.curl ? await servers.add(startRawPut(repo, work.dir('up-raw-nosync'), false)) : null;
      contenders.push(
        tusUpload(env, file, tus, tus ? null : '@tus/server did not start (is it installed? npm install)'),
        curlPut(tools.curl, 'raw-nosync', 'curl -T → Node PUT, no fdatasync', file, rawNoSync),
        ferryCliUpload(env, 'ferry-nofsync', 'Ferry CLI, server --no-fsync', file, ferryNoSync),
        ferryCliUpload(env, 'ferry-node-gc', "Ferry CLI, server with Node's default GC", file, ferryNodeGc),
        ferryCliUpload(env, 'ferry-c1', 'Ferry CLI --concurrency 1', file, ferry, ['--concurrency', '1']),
      );
    }
    for (const s of servers.all) work.assertSameFilesystem(s.dataDir);
    ctx.log(`Upload of ${formatBytes(options.size)}: ${contenders.filter((c) => !c.skip).length} contenders × ${options.rounds} rounds`);
    const results = await alternate('upload', pick(ctx, contenders), options.rounds, ctx.log, { warmUp: !options.smoke, waitForQuiet: !options.smoke });
    return report(ctx, results);
  } finally {
    await servers.stop();
  }
}

function report(ctx: BenchContext, results: ContenderResult[]): SectionReport {
  const by = (id: string) => results.find((r) => r.contender.id === id);
  const table = throughputTable(`Upload of ${formatBytes(ctx.options.size)} (${ctx.options.rounds} rounds, alternated)`, ctx.options.size, results, by('raw-sync'));
  table.intro =
    'Wall-clock seconds per upload; the library and tus figures are timed inside their process (no start-up). ' +
    'CPU is client + server user and system time. "other load" is the median number of cores that processes outside the benchmark (and kernel write-back) kept busy during the runs: above ~0.2 the figures are disturbed. "vs reference" is the reference time divided by the row\'s time (higher is faster).';
  const targets: Target[] = [];
  for (const id of ['ferry-cli', 'ferry-lib']) {
    const ferry = by(id);
    const label = id === 'ferry-cli' ? 'Ferry CLI' : 'Ferry library';
    targets.push(speedRatio(`Upload: ${label} vs tus`, '≥ 1.50× tus-js-client → @tus/server', ferry, by('tus'), 1.5));
    targets.push(speedRatio(`Upload: ${label} vs raw PUT`, '≥ 0.85× raw PUT + fdatasync', ferry, by('raw-sync'), 0.85));
  }
  return { tables: [table], targets, facts: factsOf('upload', results) };
}
