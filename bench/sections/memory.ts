// Memory: the Ferry server's peak RSS while 4 uploads run at once, and the Ferry client's peak RSS
// uploading a file 4 × the benchmark size (sparse: reading it costs no disk), against the budgets.
import { link, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { measureClient } from '../contenders/common.js';
import type { BenchContext } from '../lib/context.js';
import type { SectionReport, Target } from '../lib/report.js';
import { formatBytes, MiB, seconds } from '../lib/stats.js';
import { settle, sparseFile } from '../lib/workdir.js';
import { startFerry } from '../servers/spawn.js';

const mib = (n: number | null | undefined) => (n == null ? '—' : `${(n / MiB).toFixed(0)} MiB`);

export async function memorySection(ctx: BenchContext): Promise<SectionReport> {
  const { work, repo, options, env } = ctx;
  const cli = join(repo, 'dist/cli/main.js');
  const rows: string[][] = [];
  const targets: Target[] = [];

  // 1. Four concurrent uploads into one fresh server (hard links: four paths, four resume keys).
  const server = await startFerry(repo, work.dir('mem-server'));
  try {
    const idle = server.peakRssBytes();
    const sources = await Promise.all(
      [1, 2, 3, 4].map(async (i) => {
        const path = work.path(`mem-source-${i}.bin`);
        await link(ctx.file, path);
        return path;
      }),
    );
    await settle();
    ctx.log(`  4 concurrent uploads of ${formatBytes(options.size)}…`);
    const started = performance.now();
    await Promise.all(sources.map((s) => measureClient(process.execPath, [cli, 'upload', s, '--server', server.url, '--json'], null, env.clientEnv)));
    const wall = (performance.now() - started) / 1000;
    const peak = server.peakRssBytes();
    ctx.log(`  server peak RSS ${mib(peak)} (idle ${mib(idle)}), ${seconds(wall)} s`);
    rows.push([`Ferry server, 4 concurrent ${formatBytes(options.size)} uploads (${seconds(wall)} s, ${((4 * options.size) / MiB / wall).toFixed(0)} MiB/s in all)`, mib(peak), '≤ 200 MiB', `idle after start: ${mib(idle)}`]);
    targets.push({
      name: 'Memory: server peak RSS',
      goal: `≤ 200 MiB during 4 concurrent ${formatBytes(options.size)} uploads`,
      measured: mib(peak),
      met: peak === null ? null : peak <= 200 * MiB,
    });
  } finally {
    await server.stop();
    await rm(server.dataDir, { recursive: true, force: true });
  }

  // 2. One client uploading a file 4 × the size; the budget follows the chunks it kept in flight.
  const big = work.path('mem-sparse.bin');
  await sparseFile(big, 4 * options.size);
  const server2 = await startFerry(repo, work.dir('mem-server-2'));
  try {
    await settle();
    ctx.log(`  one client uploading ${formatBytes(4 * options.size)} (sparse)…`);
    let maxInFlight = 0;
    let maxLimit = 0;
    let chunks = 0;
    const { m } = await measureClient(process.execPath, [cli, 'upload', big, '--server', server2.url, '--json'], null, env.clientEnv).then((r) => {
      for (const line of r.run.stdout.split('\n')) {
        const e = parse(line);
        if (e?.event === 'progress') {
          maxInFlight = Math.max(maxInFlight, Number(e.inFlight) || 0);
          maxLimit = Math.max(maxLimit, Number(e.concurrency) || 0);
        }
        if (e?.event === 'done') chunks = Number(e.chunks) || 0;
      }
      return r;
    });
    const chunkSize = chunks ? Math.ceil((4 * options.size) / chunks) : 8 * MiB;
    // "Chunks in flight": the most the engine allowed at once (progress lines are sampled, so the
    // largest limit seen is a safer count than the largest number seen executing).
    const inFlight = Math.max(maxLimit, maxInFlight);
    const budget = 2 * inFlight * chunkSize + 100 * MiB;
    ctx.log(`  client peak RSS ${mib(m.peakRssBytes)}; at most ${inFlight} chunks of ${formatBytes(chunkSize)} in flight`);
    rows.push([
      `Ferry client (CLI) uploading ${formatBytes(4 * options.size)} (${seconds(m.seconds)} s)`,
      mib(m.peakRssBytes),
      `≤ ${mib(budget)}`,
      `${inFlight} chunks of ${formatBytes(chunkSize)} in flight at most (2 more read ahead)`,
    ]);
    targets.push({
      name: 'Memory: client peak RSS',
      goal: '≤ 2 × in flight × chunk size + 100 MiB',
      measured: `${mib(m.peakRssBytes)} (budget ${mib(budget)})`,
      met: m.peakRssBytes == null ? null : m.peakRssBytes <= budget,
    });
  } finally {
    await server2.stop();
    await rm(server2.dataDir, { recursive: true, force: true });
    await rm(big, { force: true });
  }
  return {
    tables: [
      {
        title: 'Peak resident memory (VmHWM)',
        intro: 'Peak RSS read from /proc/<pid>/status (VmHWM): the server after the run, the client polled every 20 ms until it exits.',
        columns: ['process', 'peak RSS', 'budget', 'notes'],
        rows,
      },
    ],
    targets,
  };
}

function parse(line: string): Record<string, unknown> | null {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return null;
  }
}
