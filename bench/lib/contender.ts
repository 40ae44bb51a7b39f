// A contender is one way of moving the file; the runner alternates them round by round so slow
// drifts of the machine (page cache, other load, thermal) fall on all of them alike.
import { summarize, type Summary } from './stats.js';
import { machineBusySeconds, waitForQuiet } from './system-cpu.js';
import { settle } from './workdir.js';

export interface Measurement {
  seconds: number;
  /** All CPU seconds of our processes in the run, start-up included (default: cpuSeconds). */
  ownCpuSeconds?: number;
  /** Cores the rest of the machine kept busy meanwhile, on average (busy time not ours / wall time). */
  otherCores?: number;
  /** CPU seconds of every process involved (client and server). */
  cpuSeconds?: number;
  peakRssBytes?: number | null;
  /** Further figures a contender reports (e.g. the CLI's own transfer time). */
  extra?: Record<string, number>;
}

export interface Contender {
  id: string;
  label: string;
  /** Why it cannot run here (a missing tool); the tables say so instead of a figure. */
  skip?: string | null;
  run(): Promise<Measurement>;
  /** Clean-up after each run, not timed (delete what it wrote). */
  after?(): Promise<void>;
}

export interface ContenderResult {
  contender: Contender;
  runs: Measurement[];
  seconds: Summary | null;
  cpuSeconds: Summary | null;
  /** Average cores busy with other work during this contender's runs. */
  otherCores: number | null;
  errors: string[];
}

export type Log = (line: string) => void;

export interface AlternateOptions {
  /** One unmeasured run of every contender before the first round. */
  warmUp?: boolean;
  /**
   * Before each run, wait (up to 15 s) for other processes' bursts of work to pass (default true).
   * The smoke run asserts no timing and does not wait: on a busy machine the waits were most of its time.
   */
  waitForQuiet?: boolean;
}

/**
 * Runs each contender `rounds` times, one after another within a round, starting each round one
 * further along (A B C, B C A, C A B, ...). Dirty pages are flushed before every run, and a run waits
 * (briefly, unless `waitForQuiet` is false) for other processes' bursts of work to pass; with
 * `warmUp`, every contender first runs once unmeasured. A contender that fails twice is dropped with
 * its errors kept for the report.
 */
export async function alternate(section: string, contenders: Contender[], rounds: number, log: Log, o: AlternateOptions = {}): Promise<ContenderResult[]> {
  const results = contenders.map((contender) => ({ contender, runs: [] as Measurement[], errors: [] as string[] }));
  const active = results.filter((r) => !r.contender.skip);
  // With warmUp, round 0 runs every contender once, not counted: the servers were just started, and
  // whichever contender ran first met cold code paths (JIT) and cold kernel state, 0.5-1.5 s per GiB
  // more than in its later runs.
  const first = o.warmUp ? 0 : 1;
  for (let round = first; round <= rounds; round++) {
    const counted = round > 0;
    const tag = counted ? `${section} ${round}/${rounds}` : `${section} warm-up`;
    const order = active.map((_, i) => active[(i + Math.max(round - 1, 0)) % active.length]!).filter((r) => r.errors.length < 2);
    for (const r of order) {
      await settle();
      // Other processes on a shared machine: give a burst of theirs up to 15 s to pass.
      const load = o.waitForQuiet === false ? null : await waitForQuiet(15_000);
      if (load !== null && load > 0.25) log(`  (the machine stays busy: ${load.toFixed(2)} cores used by others; measuring anyway)`);
      try {
        const busy = machineBusySeconds();
        const started = performance.now();
        const m = await r.contender.run();
        const wall = (performance.now() - started) / 1000;
        const after = machineBusySeconds();
        const own = m.ownCpuSeconds ?? m.cpuSeconds;
        if (busy !== null && after !== null && own !== undefined) m.otherCores = Math.max(0, after - busy - own) / wall;
        if (counted) r.runs.push(m);
        log(`  [${tag}] ${r.contender.label.padEnd(44)} ${m.seconds.toFixed(2)} s  (${r.contender.id}${counted ? '' : ', not counted'})`);
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        if (counted) r.errors.push(message);
        log(`  [${tag}] ${r.contender.label.padEnd(44)} FAILED: ${message.split('\n')[0]}${counted ? '' : ' (not counted)'}`);
      }
      await r.contender.after?.().catch((e: unknown) => log(`  clean-up after ${r.contender.label} failed: ${String(e)}`));
    }
  }
  return results.map((r) => ({
    ...r,
    seconds: summarize(r.runs.map((m) => m.seconds)),
    cpuSeconds: summarize(r.runs.flatMap((m) => (m.cpuSeconds === undefined ? [] : [m.cpuSeconds]))),
    otherCores: otherCores(r.runs),
  }));
}

function otherCores(runs: Measurement[]): number | null {
  const measured = runs.flatMap((m) => (m.otherCores === undefined ? [] : [m.otherCores]));
  return summarize(measured)?.median ?? null;
}
