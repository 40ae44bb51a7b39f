// One probe against one fresh `ferry serve` process (the built CLI with the Node flags of `npm start`,
// loopback, open mode, a new data directory): counts its requests and 5xx, samples the server's RSS
// every 100 ms and polls /healthz while the probe's attack runs, and scans the server's log.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { processFootprint, startChaosServer, type ChaosServer } from '../../chaos/support/child-server.js';
import { tempDir } from '../../helpers/server.js';
import { percentile, startHealthzPoller, type HealthzStats } from './healthz.js';
import { isServerError, Traffic } from './traffic.js';

export interface ProbeEnv {
  url: string;
  port: number;
  pid: number;
  server: ChaosServer;
  http: Traffic;
  /** `npm test` sizes instead of the issue's. */
  quick: boolean;
  /** Runs the attack with RSS sampling and the /healthz poller on; call it once. */
  measure<T>(attack: () => Promise<T>): Promise<T>;
  /** The server's resident memory now, in bytes. */
  rss(): number;
  /** Its open file descriptors now. */
  fds(): number;
  /** RSS before, at peak and after the measured attack, once `measure` has returned. */
  window(): { rss: NonNullable<ProbeResult['rss']>; peakFds: number } | null;
}

export interface ProbeOutcome {
  /** What was seen, in a few words (the table's "result" column). */
  result: string;
  /** Named bounds and whether each held. */
  checks: Record<string, boolean>;
  notes?: string[];
}

export interface ProbeSpec {
  id: string;
  /** The row, in short. */
  title: string;
  /** The bounds, in words (the table's "bound" column). */
  bound: string;
  /** Extra `ferry serve` flags (none in `npm run abuse`: the defaults are what is measured). */
  serverArgs?: string[];
  /** Adds the check "/healthz p99 < N ms, every poll answered" when set. */
  healthzP99Ms?: number;
  /** Raise the server's open-files limit to the hard limit. */
  manyConnections?: boolean;
  run(env: ProbeEnv): Promise<ProbeOutcome>;
}

export interface ProbeResult extends ProbeOutcome {
  id: string;
  title: string;
  bound: string;
  requests: number;
  fiveXX: number;
  answers: string;
  rss: { before: number; peak: number; after: number } | null;
  peakFds: number | null;
  healthz: { polls: number; failed: number; p50: number | null; p99: number | null; max: number | null; fiveXX: number } | null;
  /** Log lines carrying a stack trace (or an error object) at any level the server logged. */
  stackLines: number;
  durationMs: number;
  /** Set when the probe itself threw: a harness failure, reported rather than hidden. */
  error?: string;
}

export function passed(r: ProbeResult): boolean {
  return !r.error && r.fiveXX === 0 && Object.values(r.checks).every(Boolean);
}

/** A log entry that carries a stack trace: what an operator's log must not show at info level. */
export function hasStack(entry: unknown): boolean {
  const text = JSON.stringify(entry);
  return /"stack"\s*:/.test(text) || /\\n\s+at /.test(text);
}

export interface RunProbeOptions {
  quick?: boolean;
  /** Flags appended to the spec's (e.g. small limits in the `npm test` subset). */
  extraArgs?: string[];
}

export async function runProbe(spec: ProbeSpec, o: RunProbeOptions = {}): Promise<ProbeResult> {
  const started = Date.now();
  const dir = await tempDir(`ferry-abuse-${spec.id}-`);
  let server: ChaosServer | null = null;
  let traffic: Traffic | null = null;
  let rss: ProbeResult['rss'] = null;
  let peakFds: number | null = null;
  let hz: HealthzStats | null = null;
  let outcome: ProbeOutcome = { result: '', checks: {} };
  let error: string | undefined;
  try {
    server = await startChaosServer({
      dataDir: join(dir, 'data'),
      hook: false,
      raiseFileLimit: spec.manyConnections === true,
      args: [...(spec.serverArgs ?? []), ...(o.extraArgs ?? [])],
    });
    if (!server.url) throw new Error(`ferry serve exited before it listened (flags: ${[...(spec.serverArgs ?? []), ...(o.extraArgs ?? [])].join(' ')})`);
    const s = server;
    const pid = s.child.pid!;
    const footprint = () => {
      try {
        return processFootprint(pid);
      } catch {
        return { fds: 0, rssBytes: 0 };
      }
    };
    const http = new Traffic(s.url!);
    traffic = http;
    const env: ProbeEnv = {
      url: s.url!,
      port: s.port!,
      pid,
      server: s,
      http,
      quick: o.quick === true,
      rss: () => footprint().rssBytes,
      fds: () => footprint().fds,
      window: () => (rss && peakFds !== null ? { rss, peakFds } : null),
      measure: async (attack) => {
        const before = footprint();
        const sample = { peak: before.rssBytes, fds: before.fds };
        const sampler = setInterval(() => {
          const f = footprint();
          sample.peak = Math.max(sample.peak, f.rssBytes);
          sample.fds = Math.max(sample.fds, f.fds);
        }, 100);
        const poller = startHealthzPoller(s.port!);
        try {
          return await attack();
        } finally {
          hz = await poller.stop();
          clearInterval(sampler);
          const after = footprint();
          rss = { before: before.rssBytes, peak: Math.max(sample.peak, after.rssBytes), after: after.rssBytes };
          peakFds = Math.max(sample.fds, after.fds);
        }
      },
    };
    try {
      outcome = await spec.run(env);
    } finally {
      http.close();
    }
  } catch (e) {
    error = (e as Error).stack ?? String(e);
  } finally {
    if (server) await server.kill();
    await rm(dir, { recursive: true, force: true });
  }
  const stats = hz as HealthzStats | null;
  const sorted = stats ? [...stats.latencies].sort((a, b) => a - b) : [];
  const healthz = stats
    ? {
        polls: stats.polls,
        failed: stats.failed,
        p50: percentile(sorted, 0.5),
        p99: percentile(sorted, 0.99),
        max: sorted.at(-1) ?? null,
        fiveXX: Object.entries(stats.statuses).reduce((n, [st, c]) => n + (isServerError(Number(st)) ? c : 0), 0),
      }
    : null;
  const checks = { ...outcome.checks };
  if (spec.healthzP99Ms !== undefined) {
    checks[`/healthz p99 < ${spec.healthzP99Ms} ms, every poll answered`] = healthz !== null && healthz.p99 !== null && healthz.p99 < spec.healthzP99Ms && healthz.failed === 0;
  }
  const stackLines = server ? server.logs.filter(hasStack).length : 0;
  return {
    ...outcome,
    checks,
    id: spec.id,
    title: spec.title,
    bound: spec.bound,
    requests: traffic?.requests ?? 0,
    fiveXX: (traffic?.fiveXX ?? 0) + (healthz?.fiveXX ?? 0),
    answers: traffic?.tally() ?? 'none',
    rss,
    peakFds,
    healthz,
    stackLines,
    durationMs: Date.now() - started,
    ...(error !== undefined && { error }),
  };
}
