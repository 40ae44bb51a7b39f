// One `ferry serve` per data directory: SQLite and the file store assume a single owner. The lock is a
// file (serve.lock) that names its holder, made with link(2) so it appears whole or not at all; a lock
// whose holder is gone (killed, crashed, machine rebooted) is taken over. Only one process at a time
// may remove a stale lock (it holds serve.lock.takeover meanwhile): two that both found it stale could
// otherwise remove it once each, the second time taking the first one's new lock with it.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, open, readFile, rename, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const LockFileName = 'serve.lock';

/** What the lock file holds. */
export interface LockHolder {
  pid: number;
  hostname: string;
  /** ISO time the holder took the lock. */
  startedAt: string;
  /** Where it listens (its URL once listening). */
  listen: string;
  /** The kernel's boot id when it took the lock: a pid from an earlier boot names nothing. */
  bootId?: string;
}

/** Another live `ferry serve` (or one we cannot check, on another host) holds the directory. */
export class DataDirBusy extends Error {
  constructor(
    readonly dir: string,
    readonly holder: LockHolder | null,
    readonly lockFile: string,
  ) {
    super(busyMessage(dir, holder, lockFile));
    this.name = 'DataDirBusy';
  }
}

export interface DataDirLock {
  readonly file: string;
  /** The dead holder whose lock was taken over, if any (for the log). */
  readonly tookOverFrom: LockHolder | null;
  /** Records where the server listens, once it does. */
  update(listen: string): Promise<void>;
  /** Removes the lock if it is still ours. */
  release(): Promise<void>;
}

const attempts = 10;

/** Takes the lock of `dir` (which must exist) for this process; throws DataDirBusy if a live server has it. */
export async function lockDataDir(dir: string, listen: string): Promise<DataDirLock> {
  const absolute = resolve(dir);
  const file = join(absolute, LockFileName);
  let mine: LockHolder = { pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString(), listen, ...bootIdField() };
  let tookOverFrom: LockHolder | null = null;
  for (let i = 0; i < attempts; i++) {
    if (await createExclusive(file, serialize(mine))) {
      return {
        file,
        tookOverFrom,
        update: async (where) => {
          mine = { ...mine, listen: where };
          await replace(file, serialize(mine));
        },
        release: async () => {
          const text = await readFile(file, 'utf8').catch(() => null);
          if (text === serialize(mine)) await unlink(file).catch(() => {});
        },
      };
    }
    const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return null; // released meanwhile: try again
      throw e;
    });
    if (text === null) continue;
    const holder = parse(text);
    if (holder === null || isAlive(holder)) throw new DataDirBusy(absolute, holder, file);
    if (await removeStale(file, text, mine)) tookOverFrom = holder;
    // Another process is taking it over: let it finish, then look again.
    else await sleep(10 * (i + 1));
  }
  // Only reached when other processes keep taking and dropping the lock between our tries.
  throw new Error(`could not lock the data directory ${absolute}: other processes keep taking ${file}`);
}

/** Creates `file` with `text` unless it exists; the content is on disk before the name appears. */
async function createExclusive(file: string, text: string): Promise<boolean> {
  const tmp = await writeTemp(file, text);
  try {
    await link(tmp, file);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw e;
    // A file system without hard links: O_EXCL, with a moment in which the file is still empty.
    return createWithExcl(file, text);
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

async function createWithExcl(file: string, text: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(file, 'wx', 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return true;
}

/** Replaces `file` as a whole (a reader sees the old content or the new, never half). */
async function replace(file: string, text: string): Promise<void> {
  const tmp = await writeTemp(file, text);
  try {
    await rename(tmp, file);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
}

async function writeTemp(file: string, text: string): Promise<string> {
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(tmp, 'wx', 0o644);
  try {
    await handle.writeFile(text);
    // Durable before it is linked: after a power cut the lock is whole, or absent.
    await handle.sync();
  } finally {
    await handle.close();
  }
  return tmp;
}

/**
 * Removes the stale lock if it still holds `judged`, under the takeover guard: false if another process
 * holds the guard (it is removing the same stale lock) or the lock changed meanwhile.
 */
async function removeStale(file: string, judged: string, me: LockHolder): Promise<boolean> {
  const guard = `${file}.takeover`;
  if (!(await createExclusive(guard, serialize(me)))) {
    // A taker that died holding the guard would block every start: its guard goes. (Two processes doing
    // this at once with a third starting is the one race left; it needs a crash inside a takeover first.)
    const text = await readFile(guard, 'utf8').catch(() => null);
    const taker = text === null ? null : parse(text);
    if (taker && !isAlive(taker)) await unlink(guard).catch(() => {});
    return false;
  }
  try {
    // Under the guard nobody else removes the lock, and a new one can only appear once it is gone:
    // the content read now is the one unlinked.
    const now = await readFile(file, 'utf8').catch(() => null);
    if (now !== judged) return false;
    await unlink(file);
    return true;
  } finally {
    await unlink(guard).catch(() => {});
  }
}

/** Whether the holder may still be running: on another host we cannot tell, so it is. */
export function isAlive(holder: LockHolder): boolean {
  if (holder.hostname !== hostname()) return true;
  const boot = bootIdField().bootId;
  if (boot !== undefined && holder.bootId !== undefined && holder.bootId !== boot) return false;
  if (holder.pid === process.pid) {
    // Our own pid: this process now (alive), or a process of an earlier life of this container, where
    // the server is often pid 1 again (dead). The start time tells them apart.
    const startedAt = Date.parse(holder.startedAt);
    return Number.isFinite(startedAt) && startedAt >= Date.now() - process.uptime() * 1000 - 1000;
  }
  try {
    process.kill(holder.pid, 0);
  } catch (e) {
    // EPERM: it exists, under another user.
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  // The pid is taken, but maybe by another process since: the holder was running when it wrote the
  // lock, so a process that started after that is not the holder.
  const started = processStartMs(holder.pid);
  const lockedAt = Date.parse(holder.startedAt);
  if (started !== null && Number.isFinite(lockedAt) && started > lockedAt + startSlackMs) return false;
  return true;
}

/** /proc/stat's btime has a one-second resolution, and the clock can step a little. */
const startSlackMs = 3000;

/** Linux's clock ticks a second as /proc shows them (USER_HZ: 100 on every architecture Node runs on). */
const ticksPerSecond = 100;

/** When `pid` started (ms since the epoch), from /proc; null where there is no /proc to read. */
function processStartMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (the command name, in parentheses) may hold spaces and ')': count fields after its end.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[22 - 3]);
    const btime = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
    if (!Number.isFinite(ticks) || !btime) return null;
    return Number(btime[1]) * 1000 + (ticks * 1000) / ticksPerSecond;
  } catch {
    return null;
  }
}

function serialize(holder: LockHolder): string {
  return JSON.stringify(holder) + '\n';
}

function parse(text: string): LockHolder | null {
  try {
    const o = JSON.parse(text) as Partial<LockHolder>;
    if (Number.isInteger(o.pid) && typeof o.hostname === 'string' && typeof o.startedAt === 'string' && typeof o.listen === 'string') {
      return { pid: o.pid!, hostname: o.hostname, startedAt: o.startedAt, listen: o.listen, ...(typeof o.bootId === 'string' && { bootId: o.bootId }) };
    }
  } catch {
    // not ours
  }
  return null;
}

let bootId: string | null | undefined;

/** Linux's id of this boot, when there is one. */
function bootIdField(): { bootId?: string } {
  if (bootId === undefined) {
    try {
      bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
    } catch {
      bootId = null;
    }
  }
  return bootId ? { bootId } : {};
}

function busyMessage(dir: string, holder: LockHolder | null, lockFile: string): string {
  if (!holder) return `data directory ${dir} is locked by ${lockFile}, which names no holder; delete it if no ferry serve uses the directory`;
  // Said even for this host: a check can be wrong (a pid namespace, a clock step), and the user can tell.
  return `data directory ${dir} is in use by ferry serve pid ${holder.pid} on host ${holder.hostname} (since ${holder.startedAt}, listening on ${holder.listen}); if that server is no longer running, delete ${lockFile}`;
}
