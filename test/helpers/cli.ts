// Running the built `ferry` CLI as a real child process.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { track } from './children.js';

export const cliPath = resolve(import.meta.dirname, '../../dist/cli/main.js');

export interface CliRun {
  child: ChildProcess;
  /** Resolves when the process exits, with everything it printed. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  /** Every stdout line so far (for --json progress). */
  lines: string[];
}

export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): CliRun {
  const child = track(spawn(process.execPath, [cliPath, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
  let stdout = '';
  let stderr = '';
  const lines: string[] = [];
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    partial += d;
    const parts = partial.split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((res) =>
    child.once('close', (code, signal) => res({ code, signal, stdout, stderr })),
  );
  return { child, done, lines };
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return startCli(args, env).done;
}

/** Parsed --json lines of one event kind. */
export function jsonEvents(lines: string[], event: string): any[] {
  return lines.flatMap((l) => {
    try {
      const o = JSON.parse(l);
      return o.event === event ? [o] : [];
    } catch {
      return [];
    }
  });
}
