// Helpers every contender module uses: run a client process, add the server's CPU, fail loudly.
import { join } from 'node:path';
import type { Measurement } from '../lib/contender.js';
import { runMeasured, type RunResult } from '../lib/procs.js';
import { emptyDir } from '../lib/workdir.js';
import type { Server } from '../servers/spawn.js';

export interface Env {
  repo: string;
  /** Environment for Ferry clients (resume state kept inside the scratch directory). */
  clientEnv: NodeJS.ProcessEnv;
}

export const tsxArgs = ['--import', 'tsx'];

/** Runs a client process against `server`, measuring wall clock, client CPU and the server's CPU. */
export async function measureClient(
  cmd: string,
  args: string[],
  server: Pick<Server, 'cpuSeconds'> | null,
  env: NodeJS.ProcessEnv = {},
): Promise<{ run: RunResult; m: Measurement }> {
  const serverBefore = server?.cpuSeconds() ?? 0;
  const run = await runMeasured(cmd, args, { env, timeoutMs: 15 * 60_000 });
  const serverCpu = (server?.cpuSeconds() ?? 0) - serverBefore;
  if (run.code !== 0) {
    const tail = (run.stderr || run.stdout).trim().split('\n').slice(-3).join(' | ');
    throw new Error(`${cmd.split('/').at(-1)} exited with ${run.code ?? run.signal}: ${tail}`);
  }
  return { run, m: { seconds: run.seconds, cpuSeconds: run.cpuSeconds + serverCpu, peakRssBytes: run.peakRssBytes } };
}

/** The last JSON line a client printed. */
export function lastJson<T>(stdout: string): T {
  const line = stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`expected a JSON line, got: ${line.slice(0, 200)}`);
  }
}

/** Deletes what a Ferry server stored (completed files and parts), keeping its database. */
export async function emptyFerry(server: Server): Promise<void> {
  await emptyDir(join(server.dataDir, 'files'));
  await emptyDir(join(server.dataDir, 'uploads'));
}
