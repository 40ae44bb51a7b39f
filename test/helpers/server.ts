// Starting real Ferry servers for tests: in-process on a loopback port, or as a child process.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { track } from './children.js';
import { parseServerConfig, startServer, type FerryServer } from '../../src/server/index.js';
import type { ServerConfigInput } from '../../src/server/index.js';
import { FsBlobStore } from '../../src/stores/fs/blob-store.js';
import type { BlobStore, MetaStore } from '../../src/stores/types.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;

/**
 * Small limits so edge cases are quick: 1 KiB minimum chunk, 64 KiB default. Chunks 128 times smaller
 * than the defaults mean 128 times the requests for the same bytes, so the per-identity request rate
 * is off here (its own tests set one; servers run by spawnServer keep the default).
 */
export const testLimits = { minChunkSize: 1 * KiB, defaultChunkSize: 64 * KiB, maxChunkSize: 16 * MiB, rateLimit: 0 } as const;

export async function tempDir(prefix = 'ferry-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export interface TestServer extends FerryServer {
  dataDir: string;
  /** Closes the server and deletes its data directory. */
  dispose(): Promise<void>;
}

export interface TestStores {
  /**
   * The metadata store: 'sqlite' (default, the server's own in its data directory) or 'postgres'
   * (a fresh database on the worker's embedded PostgreSQL, with the file blob store in the data directory).
   */
  meta?: 'sqlite' | 'postgres';
}

export async function startTestServer(config: ServerConfigInput = {}, stores: TestStores = {}): Promise<TestServer> {
  const dataDir = config.dataDir ?? (await tempDir());
  const input: ServerConfigInput = { port: 0, host: '127.0.0.1', logLevel: 'silent', ...testLimits, ...config, dataDir };
  const server = await startServer(input, stores.meta === 'postgres' ? await postgresStores(input, dataDir) : {});
  return {
    ...server,
    dataDir,
    dispose: async () => {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A PostgreSQL metadata store on a new database, and the file blob store in `dataDir`, for startServer. */
async function postgresStores(input: ServerConfigInput, dataDir: string): Promise<{ meta: MetaStore; blobs: BlobStore }> {
  // Loaded here: only the tests that ask for PostgreSQL start it.
  const { testPostgres } = await import('./postgres.js');
  const { openPostgresMetaStore } = await import('../../src/stores/postgres/meta-store.js');
  const meta = await openPostgresMetaStore(await (await testPostgres()).newDatabase());
  return { meta, blobs: new FsBlobStore({ dir: dataDir, fsync: parseServerConfig(input).fsync }) };
}

const cliPath = resolve(import.meta.dirname, '../../dist/cli/main.js');

export interface ChildServer {
  url: string;
  /** The server's "listening" log line (url, address, auth mode...). */
  listening: Record<string, unknown>;
  /** Every JSON log line so far (kept up to date while it runs). */
  logs: Array<Record<string, unknown>>;
  process: ChildProcess;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
}

/** Runs `ferry serve` (the built CLI) as a child process and waits until it listens. */
export async function spawnServer(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ChildServer> {
  // With the Node flags of `npm start` (package.json), so the tests run the server as it is shipped.
  const child = track(
    spawn(process.execPath, ['--single-threaded-gc', cliPath, 'serve', '--host', '127.0.0.1', '--port', '0', '--log-level', 'info', ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const logs: Array<Record<string, unknown>> = [];
  let noListen: NodeJS.Timeout | undefined;
  const listening = await new Promise<Record<string, unknown>>((resolveUrl, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      try {
        const entry = JSON.parse(line);
        logs.push(entry);
        if (entry.event === 'listening') resolveUrl(entry);
      } catch {
        // not a log line
      }
    });
    child.once('exit', (code) => reject(new Error(`ferry serve exited with ${code} before listening`)));
    // A server that never says it listens is stopped, not waited for.
    noListen = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('ferry serve did not listen within 30 s'));
    }, 30_000).unref();
  }).finally(() => clearTimeout(noListen)); // one that listens may run as long as its test: the timer must not kill it later
  child.stdout!.resume();
  return {
    url: String(listening.url),
    listening,
    logs,
    process: child,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
