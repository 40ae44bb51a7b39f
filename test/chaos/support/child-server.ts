// `ferry serve` as a child process that can be SIGKILLed at a named moment (see kill-hook.mjs) and
// restarted on the same port and data directory.
import { track } from '../../helpers/children.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

export const cliPath = resolve(import.meta.dirname, '../../../dist/cli/main.js');
const hookPath = resolve(import.meta.dirname, 'kill-hook.mjs');

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The kill point the hook fired at, when it did. */
  killedAt: string | null;
}

export interface ChaosServer {
  /** Set once listening; null when the process died before it listened (e.g. killed during recovery). */
  url: string | null;
  port: number | null;
  child: ChildProcess;
  /** Resolves when the process is gone. */
  exited: Promise<ChildExit>;
  /** Every JSON log line so far. */
  logs: Array<Record<string, unknown>>;
  kill(): Promise<ChildExit>;
}

export interface ChaosServerOptions {
  dataDir: string;
  port?: number;
  /** "<point>:<n>" for kill-hook.mjs; undefined runs the server unharmed. */
  killAt?: string;
  args?: string[];
  /** Preload kill-hook.mjs (default true); false runs the CLI exactly as `npm start` does. */
  hook?: boolean;
  /** Raise the soft open-files limit to the hard one first (`ulimit -n`), for probes holding many connections. */
  raiseFileLimit?: boolean;
}

/** Starts the server; resolves once it listens or has exited (whichever comes first). */
export async function startChaosServer(o: ChaosServerOptions): Promise<ChaosServer> {
  const preload = o.hook === false ? [] : ['--import', hookPath];
  const args = ['--single-threaded-gc', ...preload, cliPath, 'serve', '--host', '127.0.0.1', '--port', String(o.port ?? 0), '--data-dir', o.dataDir, '--log-level', 'info', ...(o.args ?? [])];
  // `exec` keeps the pid: the child is node itself, not a shell around it.
  const [command, argv] = o.raiseFileLimit ? ['bash', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'ferry', process.execPath, ...args]] : [process.execPath, args];
  const child = track(
    spawn(command as string, argv as string[], {
      env: { ...process.env, FERRY_CHAOS_KILL: o.killAt ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const logs: Array<Record<string, unknown>> = [];
  let killedAt: string | null = null;
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const server: ChaosServer = {
    url: null,
    port: null,
    child,
    logs,
    exited: null as unknown as Promise<ChildExit>,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return server.exited;
    },
  };
  let onListening!: () => void;
  const listening = new Promise<void>((r) => (onListening = r));
  const lines = createInterface({ input: child.stdout! });
  const linesClosed = new Promise<void>((r) => lines.once('close', r));
  lines.on('line', (line) => {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line);
    } catch {
      return;
    }
    logs.push(entry);
    if (entry.event === 'chaos-kill') killedAt = String(entry.point);
    if (entry.event === 'listening') {
      server.url = String(entry.url);
      server.port = Number(new URL(server.url).port);
      onListening();
    }
  });
  server.exited = new Promise<ChildExit>((res) =>
    child.once('exit', (code, signal) => {
      // stdout may still hold the hook's last line: read it before reporting.
      void linesClosed.then(() => {
        if (code !== 0 && signal === null && stderr) process.stderr.write(`ferry serve exited with ${code}:\n${stderr}\n`);
        res({ code, signal, killedAt });
      });
    }),
  );
  await Promise.race([listening, server.exited]);
  return server;
}

/** Open file descriptors and resident memory of a process, from /proc. */
export function processFootprint(pid: number | 'self'): { fds: number; rssBytes: number } {
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = /VmRSS:\s+(\d+) kB/.exec(status);
  return { fds, rssBytes: rss ? Number(rss[1]) * 1024 : 0 };
}
