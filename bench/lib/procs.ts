// Child processes: timed runs with CPU time and peak RSS, and long-running servers that report
// when they listen. CPU time of a finished child comes from our own cutime/cstime (what the kernel
// adds when we reap it); peak RSS from polling /proc/<pid>/status VmHWM while it runs.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const ticksPerSecond = 100; // getconf CLK_TCK on Linux x86-64 and arm64

/** utime + stime of a live process, in seconds; null when it is gone. */
export function processCpuSeconds(pid: number): number | null {
  const fields = readProc(pid, 'stat')?.split(') ')[1]?.split(' ');
  if (!fields) return null;
  // After "pid (comm) ": field 3 is state, so utime (14) and stime (15) are at 11 and 12.
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/** utime + stime of a live process and its live children (nginx's workers), in seconds. */
export function processTreeCpuSeconds(pid: number): number {
  let total = processCpuSeconds(pid) ?? 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const fields = readProc(Number(name), 'stat')?.split(') ')[1]?.split(' ');
    // Field 4 (ppid) is at index 1 after "pid (comm) ".
    if (fields && Number(fields[1]) === pid) total += processCpuSeconds(Number(name)) ?? 0;
  }
  return total;
}

/** CPU seconds of our children that have exited and been reaped. */
export function reapedChildrenCpuSeconds(): number {
  const fields = readProc('self', 'stat')!.split(') ')[1]!.split(' ');
  // cutime (16) and cstime (17).
  return (Number(fields[13]) + Number(fields[14])) / ticksPerSecond;
}

/** Peak resident set (VmHWM) of a live process, in bytes. */
export function peakRssBytes(pid: number): number | null {
  const m = /VmHWM:\s+(\d+) kB/.exec(readProc(pid, 'status') ?? '');
  return m ? Number(m[1]) * 1024 : null;
}

/** Resets VmHWM to the current RSS (Linux clear_refs "5"); false when not permitted. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

function readProc(pid: number | 'self', file: string): string | null {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return null;
  }
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall-clock seconds from spawn to exit. */
  seconds: number;
  /** User + system CPU of the process (and its reaped children). */
  cpuSeconds: number;
  peakRssBytes: number | null;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  /** Called with every complete stdout line as it arrives. */
  onLine?(line: string): void;
}

/** Runs a command to completion, measuring it. Never rejects for a non-zero exit; check `code`. */
export function runMeasured(cmd: string, args: string[], o: RunOptions = {}): Promise<RunResult> {
  const cpuBefore = reapedChildrenCpuSeconds();
  const started = performance.now();
  const child = spawn(cmd, args, { cwd: o.cwd, env: { ...process.env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let peak: number | null = null;
  const poll = setInterval(() => {
    if (child.pid !== undefined) peak = Math.max(peak ?? 0, peakRssBytes(child.pid) ?? 0) || peak;
  }, 20);
  const timer = o.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), o.timeoutMs) : null;
  child.stdout!.setEncoding('utf8');
  if (o.onLine) createInterface({ input: child.stdout! }).on('line', o.onLine);
  child.stdout!.on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.once('error', (e) => {
      clearInterval(poll);
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearInterval(poll);
      if (timer) clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout,
        stderr,
        seconds: (performance.now() - started) / 1000,
        cpuSeconds: reapedChildrenCpuSeconds() - cpuBefore,
        peakRssBytes: peak,
      });
    });
  });
}

/** Runs a command and returns its stdout, or null if it cannot be run or fails. */
export async function capture(cmd: string, args: string[]): Promise<string | null> {
  try {
    const r = await runMeasured(cmd, args, { timeoutMs: 30_000 });
    return r.code === 0 ? r.stdout + r.stderr : null;
  } catch {
    return null;
  }
}

export interface Service {
  readonly pid: number;
  readonly child: ChildProcess;
  /** What the ready line told (e.g. the URL). */
  readonly ready: string;
  cpuSeconds(): number;
  peakRssBytes(): number | null;
  /** Lines of output seen so far (stdout and stderr), for diagnostics and log-based figures. */
  readonly lines: string[];
  stop(): Promise<void>;
}

/** How to tell a service is up: one of its output lines says so, or a probe succeeds. */
export interface Readiness {
  /** Returns what the line told (e.g. the URL) when it is the ready line. */
  line?(line: string): string | null;
  /** Polled every 50 ms; returns a value once the service answers. */
  probe?(): Promise<string | null>;
}

/** Starts a long-running process and waits until it is ready. It is stopped with SIGTERM, then SIGKILL. */
export async function startService(
  cmd: string,
  args: string[],
  readiness: Readiness,
  options: SpawnOptions & { what: string; timeoutMs?: number },
): Promise<Service> {
  const child = spawn(cmd, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  let probing: NodeJS.Timeout | undefined;
  const readyText = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${options.what} did not start in time:\n${lines.slice(-20).join('\n')}`)), options.timeoutMs ?? 20_000);
    const done = (text: string) => {
      clearTimeout(timer);
      clearInterval(probing);
      resolve(text);
    };
    const onLine = (line: string) => {
      if (lines.length < 200_000) lines.push(line);
      const r = readiness.line?.(line) ?? null;
      if (r !== null) done(r);
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    if (readiness.probe) {
      let busy = false;
      probing = setInterval(() => {
        if (busy) return;
        busy = true;
        readiness.probe!().then(
          (r) => {
            busy = false;
            if (r !== null) done(r);
          },
          () => (busy = false),
        );
      }, 50);
    }
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      clearInterval(probing);
      reject(new Error(`${options.what} exited (${code}) before it was ready:\n${lines.slice(-20).join('\n')}`));
    });
  }).catch(async (e: unknown) => {
    await stop();
    throw e;
  });
  const pid = child.pid!;
  return {
    pid,
    child,
    ready: readyText,
    lines,
    cpuSeconds: () => processCpuSeconds(pid) ?? 0,
    peakRssBytes: () => peakRssBytes(pid),
    stop,
  };
}
