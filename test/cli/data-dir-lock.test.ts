// One `ferry serve` per data directory (SQLite and the file store have one owner): a second is refused
// with one line naming the holder, a dead holder's lock is taken over, a clean stop removes it.
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DataDirBusy, LockFileName, lockDataDir, type LockHolder } from '../../src/cli/data-dir-lock.js';
import { runCli } from '../helpers/cli.js';
import { spawnServer, tempDir, type ChildServer } from '../helpers/server.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function dataDir(): Promise<string> {
  const dir = await tempDir('ferry-lock-');
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function serve(dir: string, args: string[] = []): Promise<ChildServer> {
  const child = await spawnServer(['--data-dir', dir, ...args]);
  cleanups.push(() => child.kill());
  return child;
}

/** The pid of a process that has exited (and been reaped): a holder that is certainly gone. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

const readLock = async (dir: string): Promise<LockHolder> => JSON.parse(await readFile(join(dir, LockFileName), 'utf8'));

describe('ferry serve and its data directory', () => {
  it('a second server on the same directory is refused in one line naming the first; exit 1', async () => {
    const dir = await dataDir();
    const first = await serve(dir);
    // The lock names the listening URL once the server listens.
    await expect.poll(async () => (await readLock(dir)).listen).toBe(first.url);
    const second = await runCli(['serve', '--port', '0', '--data-dir', dir]);
    expect(second.code).toBe(1);
    const lines = second.stderr.split('\n').filter(Boolean);
    expect(lines, second.stderr).toHaveLength(1);
    expect(lines[0]).toBe(
      `ferry serve: data directory ${dir} is in use by ferry serve pid ${first.process.pid} on host ${hostname()} (since ${(await readLock(dir)).startedAt}, listening on ${first.url}); if that server is no longer running, delete ${join(dir, LockFileName)}`,
    );
    // The first is unharmed.
    expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
  });

  it("a killed server's lock is taken over by the next, which logs whose it was", async () => {
    const dir = await dataDir();
    const first = await serve(dir);
    const pid = first.process.pid;
    await first.kill(); // SIGKILL: no clean-up ran, the lock stays
    expect((await readLock(dir)).pid).toBe(pid);
    const second = await serve(dir);
    await expect.poll(() => second.logs.find((l) => l.event === 'data-dir-lock-taken-over')).toMatchObject({ previous: { pid, hostname: hostname() } });
    await expect.poll(async () => (await readLock(dir)).pid).toBe(second.process.pid);
  });

  it('servers on different directories both start', async () => {
    const a = await serve(await dataDir());
    const b = await serve(await dataDir());
    expect((await fetch(`${a.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${b.url}/healthz`)).status).toBe(200);
  });

  it('a clean stop (SIGTERM) removes the lock', async () => {
    const dir = await dataDir();
    const child = await serve(dir);
    await expect.poll(async () => (await readLock(dir)).listen).toBe(child.url);
    const exited = new Promise<number | null>((resolve) => child.process.once('exit', (code) => resolve(code)));
    child.process.kill('SIGTERM');
    expect(await exited).toBe(0);
    await expect(readFile(join(dir, LockFileName))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a server that fails to start leaves no lock behind', async () => {
    const dir = await dataDir();
    const r = await runCli(['serve', '--port', '0', '--data-dir', dir, '--min-chunk-size', '16MiB', '--max-chunk-size', '1MiB']);
    expect(r.code).toBe(2);
    await expect(readFile(join(dir, LockFileName))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a lock held from another host is respected, and the line says how to clear it', async () => {
    const dir = await dataDir();
    const elsewhere: LockHolder = { pid: 4242, hostname: 'other-host.example', startedAt: '2026-01-02T03:04:05.000Z', listen: 'http://10.0.0.5:8080' };
    await writeFile(join(dir, LockFileName), JSON.stringify(elsewhere));
    const r = await runCli(['serve', '--port', '0', '--data-dir', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      `ferry serve: data directory ${dir} is in use by ferry serve pid 4242 on host other-host.example (since 2026-01-02T03:04:05.000Z, listening on http://10.0.0.5:8080); if that server is no longer running, delete ${join(dir, LockFileName)}`,
    );
  });

  it('PostgreSQL and S3 (several nodes) take no lock: the data directory is not used', async () => {
    // Proven without the services: the lock would refuse this start before the stores are opened.
    const dir = await dataDir();
    await writeFile(join(dir, LockFileName), JSON.stringify({ pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString(), listen: 'x' }));
    const r = await runCli(['serve', '--port', '0', '--data-dir', dir, '--meta', 'postgres://u:p@127.0.0.1:9/db', '--store', 's3://bucket', '--s3-endpoint', 'http://127.0.0.1:9'], {
      AWS_ACCESS_KEY_ID: 'x',
      AWS_SECRET_ACCESS_KEY: 'y',
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).not.toContain('in use by');
  });
});

describe('lockDataDir', () => {
  it('a stale lock (dead pid, earlier boot, or this pid from an earlier life) is taken over', async () => {
    const dir = await dataDir();
    const file = join(dir, LockFileName);
    const stale: LockHolder[] = [
      { pid: await deadPid(), hostname: hostname(), startedAt: new Date().toISOString(), listen: 'a' },
      { pid: process.pid, hostname: hostname(), startedAt: '2000-01-01T00:00:00.000Z', listen: 'b' },
    ];
    const boot = await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => null);
    // pid 1 is alive: only the other boot id makes it stale.
    if (boot) stale.push({ pid: 1, hostname: hostname(), startedAt: new Date().toISOString(), listen: 'c', bootId: 'not-this-boot' });
    for (const holder of stale) {
      await writeFile(file, JSON.stringify(holder));
      const lock = await lockDataDir(dir, 'here');
      expect(lock.tookOverFrom).toEqual(holder);
      expect(await readLock(dir)).toMatchObject({ pid: process.pid, listen: 'here' });
      await lock.release();
    }
  });

  it('a lock whose pid now belongs to an unrelated process (started after the lock was taken) is taken over', async () => {
    if (!(await readFile('/proc/self/stat', 'utf8').catch(() => null))) {
      if (process.env.CI === 'true') throw new Error('this test needs /proc');
      console.warn('skipped: no /proc to read process start times from');
      return;
    }
    // The pid was reused: the holder died, and `sleep` now has its number.
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    cleanups.push(async () => sleeper.kill('SIGKILL'));
    await new Promise((resolve, reject) => sleeper.once('spawn', resolve).once('error', reject));
    const dir = await dataDir();
    const holder: LockHolder = { pid: sleeper.pid!, hostname: hostname(), startedAt: new Date(Date.now() - 3_600_000).toISOString(), listen: 'old' };
    await writeFile(join(dir, LockFileName), JSON.stringify(holder));
    const lock = await lockDataDir(dir, 'here');
    expect(lock.tookOverFrom).toEqual(holder);
    await lock.release();
  });

  it('a live holder on this host is refused; a lock naming no holder is not taken', async () => {
    const dir = await dataDir();
    const file = join(dir, LockFileName);
    await writeFile(file, JSON.stringify({ pid: 1, hostname: hostname(), startedAt: new Date().toISOString(), listen: 'x' }));
    await expect(lockDataDir(dir, 'here')).rejects.toBeInstanceOf(DataDirBusy);
    await writeFile(file, 'garbage');
    await expect(lockDataDir(dir, 'here')).rejects.toThrow(/names no holder; delete it if no ferry serve uses the directory/);
    expect(await readFile(file, 'utf8')).toBe('garbage');
  });

  it('racing takers of a stale lock: exactly one wins, the others are told who', async () => {
    const dir = await dataDir();
    await writeFile(join(dir, LockFileName), JSON.stringify({ pid: await deadPid(), hostname: hostname(), startedAt: new Date().toISOString(), listen: 'old' }));
    const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => lockDataDir(dir, `taker-${i}`)));
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(DataDirBusy);
    const winner = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof lockDataDir>>>).value;
    expect((await readLock(dir)).listen).toMatch(/^taker-/);
    await winner.release();
    await expect(readFile(join(dir, LockFileName))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('release leaves a lock that is no longer ours alone', async () => {
    const dir = await dataDir();
    const lock = await lockDataDir(dir, 'mine');
    const theirs = JSON.stringify({ pid: 1, hostname: 'elsewhere', startedAt: new Date().toISOString(), listen: 'theirs' });
    await writeFile(join(dir, LockFileName), theirs);
    await lock.release();
    expect(await readFile(join(dir, LockFileName), 'utf8')).toBe(theirs);
  });
});
