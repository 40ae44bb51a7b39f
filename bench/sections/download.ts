// Download of the same file: Ferry's client (verified, parallel) against curl and aria2c -x4 -s4
// from Ferry's server, and from nginx serving the stored file from disk (the reference).
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { aria2Get, curlGet, ferryDownload } from '../contenders/download.js';
import { lastJson, measureClient } from '../contenders/common.js';
import { alternate, type Contender } from '../lib/contender.js';
import { pick, type BenchContext } from '../lib/context.js';
import { capture } from '../lib/procs.js';
import type { SectionReport } from '../lib/report.js';
import { formatBytes } from '../lib/stats.js';
import { ServerSet, startFerry, startNginx } from '../servers/spawn.js';
import { factsOf, speedRatio, throughputTable } from './tables.js';

/** Why `ferry download` cannot be measured, or null when it can. */
export async function ferryDownloadMissing(repo: string): Promise<string | null> {
  const cli = join(repo, 'dist/cli/main.js');
  if (!existsSync(join(repo, 'dist/cli/download.js'))) return '`ferry download` does not exist yet (no src/cli/download.ts in this build)';
  if ((await capture(process.execPath, [cli, 'download', '--help'])) === null) return '`ferry download --help` fails in this build';
  return null;
}

export async function downloadSection(ctx: BenchContext): Promise<SectionReport> {
  const { work, repo, options, tools, env } = ctx;
  const servers = new ServerSet();
  try {
    const ferry = await servers.add(startFerry(repo, work.dir('dl-ferry')));
    const cli = join(repo, 'dist/cli/main.js');
    const { run } = await measureClient(process.execPath, [cli, 'upload', ctx.file, '--server', ferry.url, '--json'], null, env.clientEnv);
    const fileUrl = lastJson<{ fileUrl: string }>(run.stdout).fileUrl;
    const fileId = new URL(fileUrl).pathname.split('/').at(-1)!;
    let noNginx = tools.nginx ? null : 'nginx is not installed';
    const nginx = tools.nginx
      ? await servers.add(startNginx(tools.nginx, work.dir('nginx'), join(ferry.dataDir, 'files'))).catch((e: Error) => {
          noNginx = `nginx did not start: ${e.message.split('\n')[0]}`;
          ctx.log(`  ${noNginx}`);
          return null;
        })
      : null;
    const out = join(work.dir('dl-out'), 'download.bin');
    const fromFerry = { url: fileUrl, out, size: options.size, server: ferry };
    const fromNginx = { url: `${nginx?.url}/${fileId}`, out, size: options.size, server: nginx };
    const missing = await ferryDownloadMissing(repo);
    if (missing) ctx.log(`  skipping Ferry download: ${missing}`);
    const contenders: Contender[] = [
      ferryDownload(env, fromFerry, missing),
      ...(options.baseline ? [ferryDownload(env, fromFerry, null, options.baseline)] : []),
      curlGet(tools.curl, 'curl-ferry', 'curl ← Ferry', fromFerry),
      curlGet(tools.curl, 'curl-nginx', 'curl ← nginx (reference)', fromNginx, noNginx),
    ];
    if (!options.smoke) {
      contenders.push(
        aria2Get(tools.aria2c, 'aria2-ferry', 'aria2c -x4 -s4 ← Ferry', fromFerry),
        aria2Get(tools.aria2c, 'aria2-nginx', 'aria2c -x4 -s4 ← nginx', fromNginx, noNginx),
      );
    }
    work.assertSameFilesystem(join(work.root, 'dl-out'));
    ctx.log(`Download of ${formatBytes(options.size)}: ${contenders.filter((c) => !c.skip).length} contenders × ${options.rounds} rounds`);
    const results = await alternate('download', pick(ctx, contenders), options.rounds, ctx.log, { warmUp: !options.smoke, waitForQuiet: !options.smoke });
    const by = (id: string) => results.find((r) => r.contender.id === id);
    const table = throughputTable(`Download of ${formatBytes(options.size)} (${options.rounds} rounds, alternated)`, options.size, results, by('curl-nginx'));
    table.intro =
      'Wall-clock seconds per download into a file on the same disk (deleted between runs; dirty pages flushed before each run). ' +
      'The stored file is in the page cache for every contender. CPU is client + server; "other load" as in the upload table. ' +
      'Ferry and aria2c make the file durable before they exit (fdatasync as they go and at the end; aria2c preallocates the file and fsyncs it at the end); ' +
      'curl leaves it dirty in the page cache.';
    return {
      tables: [table],
      facts: factsOf('download', results),
      targets: [
        speedRatio('Download: Ferry vs aria2c', '≥ 1.00× aria2c -x4 -s4 ← Ferry', by('ferry-download'), by('aria2-ferry'), 1.0),
        speedRatio('Download: Ferry vs nginx', '≥ 0.90× curl ← nginx', by('ferry-download'), by('curl-nginx'), 0.9),
      ],
    };
  } finally {
    await servers.stop();
    await rm(join(work.root, 'dl-ferry'), { recursive: true, force: true });
  }
}
