// startDownload(): the handle (events, pause/resume/abort, result) around one run of the download
// engine. The same handle as uploads (engine/transfer.ts); abort keeps the `.part` and sidecar unless
// told otherwise.
import { ConcurrencyController } from '../engine/concurrency.js';
import { ProgressTracker } from '../engine/progress.js';
import { Transfer, type TransferHandle } from '../engine/transfer.js';
import { httpDeps, retryContext, type DownloadContext, type DownloadEvents, type DownloadResult } from './context.js';
import { DownloadError, toDownloadError } from './errors.js';
import type { DownloadTarget } from './io.js';
import { InitialDownloadConcurrency, resolveDownloadOptions, type DownloadIo, type DownloadOptions } from './options.js';
import { runDownload } from './run.js';

export interface DownloadHandle extends TransferHandle<DownloadEvents, DownloadResult> {
  /** Resolves when the file is verified and in place; rejects with a DownloadError. */
  readonly result: Promise<DownloadResult>;
  /** Starts no new ranges; those in flight finish (a single stream stops reading). */
  pause(): void;
  /**
   * Cancels requests and resolves once the sidecar records every finished chunk, so running the
   * download again continues it. `discard: true` deletes the `.part` and sidecar instead.
   */
  abort(options?: { discard?: boolean }): Promise<void>;
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

class Download extends Transfer<DownloadEvents, DownloadResult> implements DownloadHandle {
  readonly result: Promise<DownloadResult>;
  private ctx: DownloadContext | null = null;
  /** Until the run has a context (whose tracker is replaced when the download starts over). */
  private readonly firstTracker = new ProgressTracker();
  private discard = false;

  constructor(url: string | URL, target: DownloadTarget | Promise<DownloadTarget>, options: DownloadOptions, platform: Partial<DownloadIo>) {
    super();
    this.result = this.begin(options.signal, () => this.run(url, target, options, platform));
  }

  abort(options: { discard?: boolean } = {}): Promise<void> {
    if (options.discard) this.discard = true;
    return this.stop(new DownloadError('aborted', 'The download was aborted.'));
  }

  protected tracker(): ProgressTracker {
    return this.ctx?.progress ?? this.firstTracker;
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
      this.firstTracker.setConcurrency(controller.limit, 0);
      // Until the server first answers, a wrong address fails at once (network-failure.ts).
      const contact = { answered: false };
      this.ctx = {
        o,
        target,
        http: httpDeps(o, contact),
        retry: { ...retryContext(o, contact, (e) => this.events.emit('retry', e)), wake: this.retryWake },
        controller,
        events: this.events,
        gate: this.gate,
        signal: this.aborter.signal,
        progress: this.firstTracker,
        stats: { bytesFetched: 0 },
      };
      return await runDownload(this.ctx);
    } catch (e) {
      if (this.ctx) this.emitProgress();
      if (this.aborter.signal.aborted) {
        if (this.discard && target) await target.discard().catch(() => {});
        throw new DownloadError('aborted', 'The download was aborted.');
      }
      throw toDownloadError(e);
    }
  }
}
