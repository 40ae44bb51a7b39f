// Network faults: a transfer through the seeded fault proxy (cuts, stalls, bit flips, latency,
// throttling), in library and CLI form. Measured: completion, byte identity, faults injected, bytes
// the server had to read again (uploads) or the client fetched again (downloads), time.
import { spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { download } from '../../../src/client/node/download.js';
import { MemoryResumeStore, upload } from '../../../src/client/node/index.js';
import { jsonEvents, runCli } from '../../helpers/cli.js';
import { startFaultProxy, type FaultPlan, type FaultProxy } from '../../helpers/fault-proxy.js';
import { startTestServer, tempDir, type TestServer } from '../../helpers/server.js';
import { cliPath } from '../support/child-server.js';
import type { ScenarioResult } from '../support/report.js';
import { KiB, MiB, sha256File, sha256Url, type SourceFile } from '../support/source.js';

export type FaultLevel = 'low' | 'medium' | 'high';
export type Form = 'library' | 'cli';

/**
 * Faults are decided per connection (see fault-proxy.ts), and a keep-alive client opens a new connection
 * only after one broke, so a level is "how often a connection breaks": the share of connections that
 * get each fault, and how far into its stream a cut lands (so the bytes between faults).
 */
const levels: Record<FaultLevel, { cut: number; cutAfter: [number, number]; flip: number; stall: number; delayMs: number; bytesPerSecond?: number }> = {
  low: { cut: 0.5, cutAfter: [1 * MiB, 32 * MiB], flip: 0.2, stall: 0.03, delayMs: 1 },
  medium: { cut: 0.8, cutAfter: [256 * KiB, 8 * MiB], flip: 0.3, stall: 0.03, delayMs: 2 },
  high: { cut: 1, cutAfter: [64 * KiB, 4 * MiB], flip: 0.4, stall: 0.03, delayMs: 4, bytesPerSecond: 48 * MiB },
};

/** The client's request (upload) and idle (download) timeout in these runs, library and CLI alike; stalls outlast it. */
const clientTimeoutMs = 4_000;

export function faultPlan(level: FaultLevel, seed: number, chunkSize: number, maxFaults: number, transfer: 'upload' | 'download'): FaultPlan {
  const l = levels[level];
  return {
    seed,
    cutRate: l.cut,
    cutAfterBytes: l.cutAfter,
    // Cut the direction that carries the file: a cut of the other one lands only after megabytes of
    // small responses (or requests), i.e. almost never.
    cutDirection: transfer === 'upload' ? 'up' : 'down',
    // Flips land past the first request's headers: HTTP headers carry no checksum (TLS would turn a
    // flipped header into a cut connection); bodies and responses do get checked.
    flipRate: l.flip,
    flipWindow: [2 * KiB, chunkSize],
    flipDirection: transfer === 'upload' ? 'both' : 'down',
    stallRate: l.stall,
    stallAfterBytes: [1, chunkSize],
    stallDirection: 'both',
    stallMs: 5_000,
    delayMs: l.delayMs,
    ...(l.bytesPerSecond ? { bytesPerSecond: l.bytesPerSecond } : {}),
    maxFaults,
  };
}

function planText(level: FaultLevel, plan: FaultPlan): string {
  const mib = (n: number) => `${+(n / MiB).toFixed(2)} MiB`;
  const [a, b] = plan.cutAfterBytes!;
  const parts = [
    `${level}: cut ${plan.cutRate} of connections after ${mib(a)}–${mib(b)}, flip ${plan.flipRate}, stall ${plan.stallRate} (${plan.stallMs! / 1000} s)`,
    `${plan.delayMs} ms latency`,
  ];
  if (plan.bytesPerSecond) parts.push(`${plan.bytesPerSecond / MiB} MiB/s per connection`);
  return parts.join(', ');
}

export interface NetworkOptions {
  source: SourceFile;
  form: Form;
  level: FaultLevel;
  chunkSize: number;
  seed: number;
  maxFaults: number;
  /** Also download the file back through a fault proxy. */
  download: boolean;
}

const retry = { baseDelayMs: 50, maxDelayMs: 2_000, maxAttempts: 12 };
/** Runs of a client that gave up (resumably) before the scenario counts the transfer as not completed. */
const maxRuns = 10;

export async function runNetworkScenario(o: NetworkOptions): Promise<ScenarioResult[]> {
  const workDir = await tempDir('ferry-chaos-net-');
  const server = await startTestServer({ dataDir: join(workDir, 'data') });
  const cleanups: Array<() => Promise<unknown>> = [() => server.dispose(), () => rm(workDir, { recursive: true, force: true })];
  try {
    const up = await uploadThroughProxy(o, server, workDir, cleanups);
    const results = [up.result];
    if (o.download && up.fileUrl) results.push(await downloadThroughProxy(o, server, up.fileUrl, workDir, cleanups));
    return results;
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  }
}

async function uploadThroughProxy(o: NetworkOptions, server: TestServer, workDir: string, cleanups: Array<() => Promise<unknown>>) {
  const plan = faultPlan(o.level, o.seed, o.chunkSize, o.maxFaults, 'upload');
  const proxy = await startFaultProxy(server.url, plan);
  cleanups.push(() => proxy.close());
  const started = Date.now();
  const notes: string[] = [planText(o.level, plan), `${o.chunkSize / KiB} KiB chunks`];
  let fileUrl: string | null = null;
  let runs = 0;
  // A client that gives up (its retry budget spent) says the upload is resumable: it is run again, as a
  // user would, up to maxRuns times; the notes say when that was needed.
  const resumeStore = new MemoryResumeStore();
  const env = { FERRY_STATE_DIR: join(workDir, 'state') };
  const args = ['upload', o.source.path, '--server', proxy.url, '--chunk-size', String(o.chunkSize), '--timeout', String(clientTimeoutMs / 1000), '--json'];
  while (!fileUrl && runs < maxRuns) {
    runs++;
    if (o.form === 'library') {
      try {
        fileUrl = (await upload(o.source.path, { server: proxy.url, chunkSize: o.chunkSize, resumeStore, requestTimeoutMs: clientTimeoutMs, retry }).result).fileUrl;
      } catch (e) {
        notes.push(`run ${runs} gave up: ${(e as Error).message}`);
      }
    } else {
      const r = await runCli(args, env);
      const done = jsonEvents(r.stdout.split('\n'), 'done')[0];
      if (r.code === 0 && done) fileUrl = done.fileUrl;
      else notes.push(`run ${runs} exited ${r.code}: ${r.stderr.trim().split('\n').pop()}`);
    }
  }
  const durationMs = Date.now() - started;
  const check = fileUrl ? await sha256Url(new URL(new URL(fileUrl).pathname, server.url).href) : null;
  const received = server.ctx.metrics.get('ferry_chunk_bytes_received_total');
  const result: ScenarioResult = {
    group: 'network',
    name: `upload, ${o.form}, ${o.level} faults`,
    seed: o.seed,
    size: o.source.size,
    faults: faultsOf(proxy),
    completed: fileUrl !== null,
    identical: check ? check.status === 200 && check.sha === o.source.sha : null,
    resentBytes: received - o.source.size,
    durationMs,
    checks: {
      'stored exactly once': server.ctx.metrics.get('ferry_chunk_bytes_stored_total') === o.source.size,
      'no 5xx': server.ctx.metrics.get('ferry_chunks_failed_total', { code: 'internal-error' }) === 0,
    },
    notes: [...notes, `${proxy.stats.connections} connections`, ...(runs > 1 ? [`needed ${runs} runs`] : [])],
  };
  return { result, fileUrl: fileUrl && new URL(new URL(fileUrl).pathname, server.url).href };
}

let cliDownload: boolean | undefined;
/** Whether the built CLI has a `download` command yet. */
export function cliHasDownload(): boolean {
  // Commander answers `--help` of an unknown command with the general help, so look for the command.
  cliDownload ??= /^\s+download \[options\]/m.test(spawnSync(process.execPath, [cliPath, '--help'], { encoding: 'utf8' }).stdout);
  return cliDownload;
}

async function downloadThroughProxy(o: NetworkOptions, server: TestServer, fileUrl: string, workDir: string, cleanups: Array<() => Promise<unknown>>): Promise<ScenarioResult> {
  const plan = faultPlan(o.level, o.seed + 1000, o.chunkSize, o.maxFaults, 'download');
  const proxy = await startFaultProxy(server.url, plan);
  cleanups.push(() => proxy.close());
  const url = new URL(new URL(fileUrl).pathname, proxy.url).href;
  const dest = join(workDir, `download-${o.form}.bin`);
  const notes = [planText(o.level, plan), 'flips downstream only'];
  const started = Date.now();
  let ok = false;
  let runs = 0;
  if (o.form === 'cli' && !cliHasDownload()) return pendingDownload(o);
  // As for uploads: a download that gives up is run again (it continues from its sidecar).
  while (!ok && runs < maxRuns) {
    runs++;
    if (o.form === 'library') {
      try {
        await download(url, dest, { idleTimeoutMs: clientTimeoutMs, retry }).result;
        ok = true;
      } catch (e) {
        notes.push(`run ${runs} gave up: ${(e as Error).message}`);
      }
    } else {
      const r = await runCli(['download', url, '-o', dest, '--timeout', String(clientTimeoutMs / 1000), '--json'], { FERRY_STATE_DIR: join(workDir, 'state') });
      ok = r.code === 0;
      if (!ok) notes.push(`run ${runs} exited ${r.code}: ${r.stderr.trim().split('\n').pop()}`);
    }
  }
  const durationMs = Date.now() - started;
  const sha = ok ? await sha256File(dest).catch(() => null) : null;
  // Bytes the proxy delivered to the client beyond the file: ranges fetched again (and response headers).
  const resent = proxy.stats.bytesDown - o.source.size;
  notes.push(`${proxy.stats.connections} connections`);
  if (runs > 1) notes.push(`needed ${runs} runs`);
  return {
    group: 'network',
    name: `download, ${o.form}, ${o.level} faults`,
    seed: o.seed + 1000,
    size: o.source.size,
    faults: faultsOf(proxy),
    completed: ok,
    identical: sha === null ? null : sha === o.source.sha,
    resentBytes: resent,
    durationMs,
    checks: {},
    notes,
  };
}

export function pendingDownload(o: Pick<NetworkOptions, 'form' | 'level' | 'seed' | 'source'>): ScenarioResult {
  return {
    group: 'network',
    name: `download, ${o.form}, ${o.level} faults`,
    seed: o.seed + 1000,
    size: o.source.size,
    faults: {},
    completed: null,
    identical: null,
    resentBytes: null,
    durationMs: 0,
    checks: {},
    notes: ['PENDING: `ferry download` is not in the CLI yet'],
  };
}

function faultsOf(proxy: FaultProxy): Record<string, number> {
  const f = proxy.stats.faults;
  return { cut: f.cut, stall: f.stall, flip: f.flip };
}
