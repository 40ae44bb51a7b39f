// Durable commits without blocking the event loop: with synchronous=NORMAL a WAL commit is written
// but not fsynced; an fdatasync of the -wal file in the thread pool then makes it durable (a
// checkpoint, which may reuse the WAL, fsyncs it first). Concurrent commits share one fdatasync.
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

export class WalSync {
  #handle: Promise<FileHandle> | null = null;
  #running: Promise<void> | null = null;
  #next: Promise<void> | null = null;

  constructor(private readonly walPath: string) {}

  /** Resolves once an fdatasync of the WAL that began after this call has finished. */
  sync(): Promise<void> {
    if (!this.#running) return this.#start();
    // The one in flight may have begun before our commit: wait for it, then sync again (shared).
    this.#next ??= this.#running
      .catch(() => {})
      .then(() => {
        this.#next = null;
        return this.#start();
      });
    return this.#next;
  }

  /**
   * Resolves once every commit made so far is durable. Every write calls sync() right after its
   * commit, so a commit not yet durable always has a sync running or queued for it.
   */
  settled(): Promise<void> {
    return (this.#next ?? this.#running ?? Promise.resolve()).catch(() => {});
  }

  async close(): Promise<void> {
    await this.#next?.catch(() => {});
    await this.#running?.catch(() => {});
    const handle = this.#handle;
    this.#handle = null;
    if (handle) await (await handle).close();
  }

  #start(): Promise<void> {
    const run = this.#datasync().finally(() => {
      if (this.#running === run) this.#running = null;
    });
    this.#running = run;
    return run;
  }

  async #datasync(): Promise<void> {
    // Kept open for the store's life: closing another descriptor of a file would drop SQLite's locks
    // on it (POSIX), and SQLite keeps its locks on the database and -shm files, not on the WAL.
    this.#handle ??= openDurably(this.walPath).catch((e: unknown) => {
      this.#handle = null;
      throw e;
    });
    await (await this.#handle).datasync();
  }
}

/** Opens the WAL and makes its directory entry durable once (SQLite created it moments ago). */
async function openDurably(path: string): Promise<FileHandle> {
  const handle = await open(path, 'r');
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
  return handle;
}
