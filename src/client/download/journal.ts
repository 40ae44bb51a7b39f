// Records finished chunks in the sidecar, in batches: at most one update per `intervalMs`, each one
// first syncing the `.part` so the sidecar never names a chunk whose bytes are not durable. A crash
// loses the chunks in flight plus at most one interval's worth of finished ones.
import type { Clock } from '../engine/io.js';
import type { DownloadTarget, PartFile } from './io.js';
import { serializeState, type DownloadState } from './state.js';

export interface JournalDeps {
  target: DownloadTarget;
  part: PartFile;
  clock: Clock;
  intervalMs: number;
}

export class Journal {
  private readonly done: Set<number>;
  /** Something is marked that the sidecar does not say yet (true at first: write the sidecar once). */
  private dirty = true;
  private flushing: Promise<void> | null = null;
  private timer: AbortController | null = null;
  private lastFlushAt = -Infinity;
  private failure: unknown = null;
  private closed = false;

  constructor(
    private readonly deps: JournalDeps,
    private readonly state: DownloadState,
    initialDone: Iterable<number>,
  ) {
    this.done = new Set(initialDone);
  }

  has(index: number): boolean {
    return this.done.has(index);
  }

  /**
   * Chunk `index` is verified and its write has completed. It reaches the sidecar with the next
   * flush. Throws if an earlier background flush failed (the download cannot record progress).
   */
  markDone(index: number): void {
    if (this.failure) throw this.failure;
    this.done.add(index);
    this.dirty = true;
    this.schedule();
  }

  /** Syncs the `.part`, then replaces the sidecar with every chunk marked before the sync began. */
  async flush(): Promise<void> {
    this.timer?.abort();
    this.timer = null;
    while (this.flushing) await this.flushing.catch(() => {});
    if (!this.dirty) return;
    this.dirty = false;
    // Taken before the sync: every chunk in it finished writing before the sync started.
    const snapshot = [...this.done];
    const { part, target, clock } = this.deps;
    this.flushing = (async () => {
      await part.sync();
      await target.writeState(serializeState(this.state, snapshot, clock.now()));
      this.lastFlushAt = clock.now();
    })();
    try {
      await this.flushing;
    } catch (e) {
      this.dirty = true;
      this.failure ??= e;
      throw e;
    } finally {
      this.flushing = null;
      if (this.dirty && !this.closed) this.schedule();
    }
  }

  /** The last flush (for an abort or a failure: leave the sidecar as current as possible). */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  /**
   * Stops background flushes without writing more, once the one running (if any) is over: the files
   * are about to be committed or discarded, and a late sidecar write must not outlive them.
   */
  async stop(): Promise<void> {
    this.closed = true;
    this.timer?.abort();
    this.timer = null;
    while (this.flushing) await this.flushing.catch(() => {});
  }

  private schedule(): void {
    if (this.timer || this.flushing || this.closed) return;
    const { clock, intervalMs } = this.deps;
    const timer = (this.timer = new AbortController());
    const wait = Math.max(0, this.lastFlushAt + intervalMs - clock.now());
    clock.sleep(wait, timer.signal).then(
      () => {
        if (this.timer !== timer) return;
        this.timer = null;
        this.flush().catch(() => {});
      },
      () => {},
    );
  }
}
