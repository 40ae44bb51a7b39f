// Contenders of the WAN section: each run starts an emulated link (its own process) in front of the
// server, moves the file through it, stops the link for its counters, then checks what arrived
// byte for byte (untimed). Ferry's rows also report bytes sent twice and the most requests in flight.
import { rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Contender, Measurement } from '../lib/contender.js';
import type { Direction } from '../lib/link.js';
import { startLinkProcess } from '../lib/link-process.js';
import { linkOptions, type WanProfile } from '../lib/wan-profiles.js';
import { emptyDir } from '../lib/workdir.js';
import type { Server } from '../servers/spawn.js';
import { emptyFerry, lastJson, measureClient, tsxArgs, type Env } from './common.js';
import { sha256File } from '../../test/chaos/support/source.js';

export interface WanRun {
  env: Env;
  profile: WanProfile;
  /** The source file, its size and SHA-256 (hex). */
  file: string;
  size: number;
  sha: string;
}

/** Figures a WAN run adds to its Measurement (in `extra`). */
export type WanExtra = 'resentBytes' | 'linkBytes' | 'linkCpu' | 'linkGapMs' | 'linkLostMs' | 'cuts' | 'stalls' | 'peakInFlight' | 'chunkSize' | 'engineSeconds';

/** What a client run hands back: its measurement, the output to check, and its own figures. */
interface ClientRun {
  m: Measurement;
  /** The file as it arrived (the server's stored copy, or the download's output). */
  arrived: string;
  extra?: Partial<Record<WanExtra, number>>;
}


/** Runs `client` through a fresh link to `server`; the link's counters and the check go into the measurement. */
async function throughLink(w: WanRun, server: Server, direction: Direction, client: (linkUrl: string) => Promise<ClientRun>): Promise<Measurement> {
  const link = await startLinkProcess(w.env.repo, server.url, linkOptions(w.profile, direction));
  let run: ClientRun;
  let stopped: Awaited<ReturnType<typeof link.stop>>;
  try {
    run = await client(link.url);
  } finally {
    stopped = await link.stop();
  }
  // The check's CPU is ours, not "other load".
  const before = process.cpuUsage();
  const sha = await sha256File(run.arrived);
  const used = process.cpuUsage(before);
  const checkCpu = (used.user + used.system) / 1e6;
  if (sha !== w.sha) throw new Error(`the file that arrived differs from the source (SHA-256 ${sha.slice(0, 12)}…, expected ${w.sha.slice(0, 12)}…)`);
  const { stats, cpuSeconds } = stopped;
  const carried = direction === 'up' ? stats.bytesUp : stats.bytesDown;
  return {
    ...run.m,
    ownCpuSeconds: (run.m.ownCpuSeconds ?? run.m.cpuSeconds ?? 0) + cpuSeconds + checkCpu,
    extra: { ...run.m.extra, ...run.extra, linkBytes: carried, linkCpu: cpuSeconds, linkGapMs: stats.maxSliceGapMs, linkLostMs: stats.lostMs, cuts: stats.cuts, stalls: stats.stalls },
  };
}

interface FerryJson {
  event: string;
  fileUrl?: string;
  fileId?: string;
  bytesSent?: number;
  bytesFetched?: number;
  concurrency?: number;
  inFlight?: number;
  totalChunks?: number;
  durationMs?: number;
}

/** The CLI's --json lines: the done event, and the most requests its progress reports saw in flight. */
function ferryFigures(stdout: string): { done: FerryJson; peakInFlight: number; totalChunks: number } {
  const events = stdout
    .trim()
    .split('\n')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as FerryJson];
      } catch {
        return [];
      }
    });
  const done = events.find((e) => e.event === 'done');
  if (!done) throw new Error(`no done event: ${stdout.trim().split('\n').at(-1)?.slice(0, 200)}`);
  const progress = events.filter((e) => e.event === 'progress');
  // Progress lines are sampled (every 500 ms): the largest limit seen is a safer count of "in flight"
  // than the largest number seen executing (the memory section counts so too).
  const most = (key: 'inFlight' | 'concurrency' | 'totalChunks') => Math.max(0, ...progress.map((e) => e[key] ?? 0));
  return { done, peakInFlight: Math.max(most('inFlight'), most('concurrency')), totalChunks: most('totalChunks') };
}

/** The transfer's own time as the CLI reports it (without starting and stopping the process). */
function engine(done: FerryJson): { engineSeconds?: number } {
  return done.durationMs === undefined ? {} : { engineSeconds: done.durationMs / 1000 };
}

/** `ferry upload --json` of this build (or of the `baseline` checkout's) through the link. */
export function wanFerryUpload(w: WanRun, server: Server, baseline?: string): Contender {
  const cli = join(baseline ?? w.env.repo, 'dist/cli/main.js');
  return {
    id: baseline ? 'wan-ferry-upload-baseline' : 'wan-ferry-upload',
    label: baseline ? '`ferry upload`, baseline build' : '`ferry upload` (defaults)',
    run: () =>
      throughLink(w, server, 'up', async (url) => {
        const { m, run } = await measureClient(process.execPath, [cli, 'upload', w.file, '--server', url, '--json'], server, w.env.clientEnv);
        const { done, peakInFlight, totalChunks } = ferryFigures(run.stdout);
        const fileId = done.fileId ?? new URL(done.fileUrl!).pathname.split('/').at(-1)!;
        return {
          m,
          arrived: join(server.dataDir, 'files', fileId),
          extra: { resentBytes: (done.bytesSent ?? w.size) - w.size, peakInFlight, chunkSize: totalChunks ? Math.ceil(w.size / totalChunks) : 0, ...engine(done) },
        };
      }),
    after: () => emptyFerry(server),
  };
}

/** tus-js-client (defaults: one PATCH of the whole file) to @tus/server through the link; timed in its process. */
export function wanTusUpload(w: WanRun, tus: Server | null, skip: string | null): Contender {
  const script = join(w.env.repo, 'bench/clients/tus-upload.ts');
  return {
    id: 'wan-tus',
    label: 'tus-js-client → @tus/server (one stream)',
    skip,
    run: () =>
      throughLink(w, tus!, 'up', async (url) => {
        const serverBefore = tus!.cpuSeconds();
        const { run } = await measureClient(process.execPath, [...tsxArgs, script, w.file, `${url}/files`], null);
        const r = lastJson<{ seconds: number; cpuSeconds: number; maxRssBytes: number; url: string }>(run.stdout);
        const serverCpu = tus!.cpuSeconds() - serverBefore;
        const m = { seconds: r.seconds, cpuSeconds: r.cpuSeconds + serverCpu, ownCpuSeconds: run.cpuSeconds + serverCpu, peakRssBytes: r.maxRssBytes };
        return { m, arrived: join(tus!.dataDir, new URL(r.url).pathname.split('/').at(-1)!) };
      }),
    after: () => (tus ? emptyDir(tus.dataDir) : Promise.resolve()),
  };
}


export interface WanDownloadTarget {
  server: Server;
  /** The stored file's path on the server (/files/<id>). */
  path: string;
  /** Where clients write it. */
  out: string;
}

async function removeOutput(out: string): Promise<void> {
  for (const name of [basename(out), `${basename(out)}.aria2`, `${basename(out)}.part`, `${basename(out)}.ferry`]) await rm(join(dirname(out), name), { force: true });
}

/** `ferry download --json` of this build (or of the `baseline` checkout's) through the link. */
export function wanFerryDownload(w: WanRun, t: WanDownloadTarget, skip: string | null, baseline?: string): Contender {
  const cli = join(baseline ?? w.env.repo, 'dist/cli/main.js');
  return {
    id: baseline ? 'wan-ferry-download-baseline' : 'wan-ferry-download',
    label: baseline ? '`ferry download`, baseline build' : '`ferry download` (defaults)',
    skip,
    run: () =>
      throughLink(w, t.server, 'down', async (url) => {
        const { m, run } = await measureClient(process.execPath, [cli, 'download', url + t.path, '-o', t.out, '--json'], t.server, w.env.clientEnv);
        const { done, peakInFlight, totalChunks } = ferryFigures(run.stdout);
        return { m, arrived: t.out, extra: { resentBytes: (done.bytesFetched ?? w.size) - w.size, peakInFlight, chunkSize: totalChunks ? Math.ceil(w.size / totalChunks) : 0, ...engine(done) } };
      }),
    after: () => removeOutput(t.out),
  };
}

/** aria2c with `connections` connections and splits (and, on a lossy link, retrying without limit). */
export function wanAria2(w: WanRun, aria2c: string | null, t: WanDownloadTarget, connections: number): Contender {
  const retry = w.profile.lossy ? ['--max-tries=0', '--retry-wait=1'] : [];
  const args = [`-x${connections}`, `-s${connections}`, ...retry, '--quiet=true', '--allow-overwrite=true', '--auto-file-renaming=false', '-d', dirname(t.out), '-o', basename(t.out)];
  return {
    id: `wan-aria2-x${connections}`,
    label: `aria2c -x${connections} -s${connections}${retry.length ? ' --max-tries=0' : ''}`,
    skip: aria2c ? null : 'aria2c is not installed (package aria2)',
    run: () => throughLink(w, t.server, 'down', async (url) => ({ m: (await measureClient(aria2c!, [...args, url + t.path], t.server)).m, arrived: t.out })),
    after: () => removeOutput(t.out),
  };
}

/** curl (one connection; on a lossy link, retrying and resuming where it stopped). */
export function wanCurl(w: WanRun, curl: string | null, t: WanDownloadTarget): Contender {
  const retry = w.profile.lossy ? ['--retry', '1000', '--retry-all-errors', '--retry-delay', '1', '-C', '-'] : [];
  return {
    id: 'wan-curl',
    label: `curl${retry.length ? ' --retry … -C -' : ''}`,
    skip: curl ? null : 'curl is not installed',
    run: () => throughLink(w, t.server, 'down', async (url) => ({ m: (await measureClient(curl!, ['-sS', '-f', ...retry, '-o', t.out, url + t.path], t.server)).m, arrived: t.out })),
    after: () => removeOutput(t.out),
  };
}
