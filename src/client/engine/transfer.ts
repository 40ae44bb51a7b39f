// The handle of one transfer, upload or download: events, pause/resume, progress, and the abort
// plumbing (the caller's signal, the engine's own). Each side adds what it alone has (abort's meaning,
// an upload id) in upload/upload.ts and download/download.ts.
import { Emitter, type Listener } from './emitter.js';
import { PauseGate } from './pause-gate.js';
import type { Progress, ProgressTracker } from './progress.js';
import { RetryWake, type RetryEvent } from './retry-loop.js';

/** The events every transfer emits; each side adds its own. */
export interface TransferEvents {
  progress: Progress;
  /** A request failed and will be retried after `delayMs`. */
  retry: RetryEvent;
}

export interface TransferHandle<Events extends TransferEvents, Result> {
  /** Resolves with the finished transfer; rejects with its error (UploadError, DownloadError). */
  readonly result: Promise<Result>;
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void;
  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void;
  /** Starts no new requests; those in flight finish. */
  pause(): void;
  resume(): void;
  readonly paused: boolean;
  /** Requests waiting to be retried go now instead of after their backoff (e.g. the server is back). */
  retryNow(): void;
  /** Cancels the requests in flight; resolves once the transfer has stopped (see each side for more). */
  abort(): Promise<void>;
  progress(): Progress;
}

export abstract class Transfer<Events extends TransferEvents, Result> implements TransferHandle<Events, Result> {
  abstract readonly result: Promise<Result>;
  protected readonly events = new Emitter<Events>();
  protected readonly gate = new PauseGate();
  /** Aborted by abort() or the caller's signal; everything the transfer does listens to it. */
  protected readonly aborter = new AbortController();
  /** Put in the run's retry context, so that retryNow() reaches its waits. */
  protected readonly retryWake = new RetryWake();
  private stopped = false;
  private settled: Promise<void> = Promise.resolve();

  abstract abort(): Promise<void>;

  /** The tracker of the run in progress (a download replaces it when it starts over). */
  protected abstract tracker(): ProgressTracker;

  /** Runs the transfer; the caller's `signal` aborting is abort(). Call once, from the constructor. */
  protected begin(signal: AbortSignal | undefined, run: () => Promise<Result>): Promise<Result> {
    const onAbort = () => void this.abort();
    const result = run().finally(() => signal?.removeEventListener('abort', onAbort));
    this.settled = result.then(
      () => {},
      () => {},
    );
    // After the run started, so that an already aborted signal has a run to stop.
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    return result;
  }

  get paused(): boolean {
    return this.gate.paused;
  }

  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    return this.events.on(event, listener);
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    this.events.off(event, listener);
  }

  progress(): Progress {
    return this.tracker().snapshot();
  }

  pause(): void {
    if (this.gate.paused) return;
    this.gate.pause();
    const tracker = this.tracker();
    if (tracker.snapshot().phase === 'transferring') tracker.setPhase('paused');
    this.emitProgress();
  }

  resume(): void {
    if (!this.gate.paused) return;
    const tracker = this.tracker();
    if (tracker.snapshot().phase === 'paused') tracker.setPhase('transferring');
    this.gate.resume();
    this.emitProgress();
  }

  retryNow(): void {
    this.retryWake.wake();
  }

  /** Aborts with `reason` (once) and resolves when the run has settled. */
  protected stop(reason: unknown): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      this.aborter.abort(reason);
      // Work waiting for resume() must wake up to see the abort.
      this.gate.resume();
    }
    return this.settled;
  }

  protected emitProgress(): void {
    emitProgress({ events: this.events, progress: this.tracker() });
  }
}

/** Tells listeners where a transfer stands. */
export function emitProgress(ctx: { events: { emit(event: 'progress', progress: Progress): void }; progress: ProgressTracker }): void {
  ctx.events.emit('progress', ctx.progress.snapshot());
}
