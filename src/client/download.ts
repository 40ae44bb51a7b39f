// startDownload(): the handle (events, pause/resume/abort, result) around one run of the download
// engine. The same handle API as uploads; abort keeps the `.part` and sidecar unless told otherwise.
import { ConcurrencyController } from './concurrency.js';
import { emitProgress, type DownloadContext, type DownloadEvents, type DownloadResult } from './download-context.js';
import { DownloadError, toDownloadError } from './download-errors.js';
import type { DownloadTarget } from './download-io.js';
import { InitialDownloadConcurrency, resolveDownloadOptions, type DownloadIo, type DownloadOptions } from './download-options.js';
import { runDownload } from './download-run.js';
import { Emitter, type Listener } from './emitter.js';
import { PauseGate } from './pause-gate.js';
import { ProgressTracker, type Progress } from './progress.js';

export interface DownloadHandle {
  /** Resolves when the file is verified and in place; rejects with a DownloadError. */
  readonly result: Promise<DownloadResult>;
  on<K extends keyof DownloadEvents>(event: K, listener: Listener<DownloadEvents[K]>): () => void;
  off<K extends keyof DownloadEvents>(event: K, listener: Listener<DownloadEvents[K]>): void;
  /** Starts no new ranges; those in flight finish (a single stream stops reading). */
  pause(): void;
  resume(): void;
  readonly paused: boolean;
  /**
   * Cancels requests and resolves once the sidecar records every finished chunk, so running the
   * download again continues it. `discard: true` deletes the `.part` and sidecar instead.
   */
  abort(options?: { discard?: boolean }): Promise<void>;
  progress(): Progress;
}

/** The platform-neutral engine; the Node entry (node/download.ts) supplies a file target and hasher. */
export function startDownload(
  url: string | URL,
  target: DownloadTarget | Promise<DownloadTarget>,
  options: DownloadOptions = {},
  platform: Partial<DownloadIo> = {},
): DownloadHandle {
  return new Download(url, target, options, platform);
}

class Download implements DownloadHandle {
  readonly result: Promise<DownloadResult>;
  private readonly events = new Emitter<DownloadEvents>();
  private readonly gate = new PauseGate();
  private readonly aborter = new AbortController();
  private ctx: DownloadContext | null = null;
  private tracker = new ProgressTracker();
  private discard = false;
  private aborted: Promise<void> | null = null;

  constructor(url: string | URL, target: DownloadTarget | Promise<DownloadTarget>, options: DownloadOptions, platform: Partial<DownloadIo>) {
    const outer = options.signal;
    const onOuterAbort = () => void this.abort();
    if (outer?.aborted) onOuterAbort();
    else outer?.addEventListener('abort', onOuterAbort, { once: true });
    this.result = this.run(url, target, options, platform).finally(() => outer?.removeEventListener('abort', onOuterAbort));
  }

  get paused(): boolean {
    return this.gate.paused;
  }

  on<K extends keyof DownloadEvents>(event: K, listener: Listener<DownloadEvents[K]>): () => void {
    return this.events.on(event, listener);
  }

  off<K extends keyof DownloadEvents>(event: K, listener: Listener<DownloadEvents[K]>): void {
    this.events.off(event, listener);
  }

  progress(): Progress {
    return (this.ctx?.progress ?? this.tracker).snapshot();
  }

  pause(): void {
    if (this.gate.paused) return;
    this.gate.pause();
    const tracker = this.ctx?.progress ?? this.tracker;
    if (tracker.snapshot().phase === 'transferring') tracker.setPhase('paused');
    this.events.emit('progress', tracker.snapshot());
  }

  resume(): void {
    if (!this.gate.paused) return;
    const tracker = this.ctx?.progress ?? this.tracker;
    if (tracker.snapshot().phase === 'paused') tracker.setPhase('transferring');
    this.gate.resume();
    this.events.emit('progress', tracker.snapshot());
  }

  abort(options: { discard?: boolean } = {}): Promise<void> {
    if (options.discard) this.discard = true;
    if (!this.aborted) {
      this.aborter.abort(new DownloadError('aborted', 'The download was aborted.'));
      this.gate.resume();
      this.aborted = this.result.then(
        () => {},
        () => {},
      );
    }
    return this.aborted;
  }

  private async run(url: string | URL, targetIn: DownloadTarget | Promise<DownloadTarget>, options: DownloadOptions, platform: Partial<DownloadIo>): Promise<DownloadResult> {
    let target: DownloadTarget | null = null;
    try {
      const o = resolveDownloadOptions(url, options, platform);
      target = await Promise.resolve(targetIn).catch((e: unknown) => {
        throw new DownloadError('invalid', `Cannot use the destination: ${(e as Error)?.message ?? e}`, { cause: e });
      });
      const max = Math.max(o.maxConcurrency, 1);
      const controller = new ConcurrencyController({ mode: o.concurrency, max, initial: Math.min(InitialDownloadConcurrency, max) });
      this.tracker.setConcurrency(controller.limit, 0);
      const { clock, random } = o.io;
      this.ctx = {
        o,
        target,
        http: { fetch: o.io.fetch, ranges: o.io.ranges, clock, headers: o.headers, idleTimeoutMs: o.idleTimeoutMs },
        retry: { policy: o.retry, clock, random, onRetry: (e) => this.events.emit('retry', e) },
        controller,
        events: this.events,
        gate: this.gate,
        signal: this.aborter.signal,
        progress: this.tracker,
        stats: { bytesFetched: 0 },
      };
      return await runDownload(this.ctx);
    } catch (e) {
      if (this.ctx) emitProgress(this.ctx);
      if (this.aborter.signal.aborted) {
        if (this.discard && target) await target.discard().catch(() => {});
        throw new DownloadError('aborted', 'The download was aborted.');
      }
      throw toDownloadError(e);
    }
  }
}
