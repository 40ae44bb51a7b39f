// What the modules of one download share: options, target, HTTP, retry, concurrency, events, progress.
import type { ConcurrencyController } from './concurrency.js';
import type { Emitter } from './emitter.js';
import type { HttpDeps } from './download-http.js';
import type { DownloadTarget } from './download-io.js';
import type { ResolvedDownloadOptions } from './download-options.js';
import type { DownloadMode } from './download-probe.js';
import type { PauseGate } from './pause-gate.js';
import { ProgressTracker, type Progress } from './progress.js';
import type { RetryContext, RetryEvent } from './retry-loop.js';

/** How the finished file was checked: every chunk against the manifest, the whole file, or not at all. */
export type Verification = 'chunks' | 'repr-digest' | 'none';

export interface DownloadEvents {
  /** The same Progress as uploads: bytesAcked = bytes verified and written, bytesSent = bytes requested. */
  progress: Progress;
  /** The remote is known and the `.part` is open (continued from the sidecar when `resumed`). */
  started: {
    url: string;
    path: string;
    mode: DownloadMode;
    size: number | null;
    etag: string | null;
    chunkSize: number;
    totalChunks: number;
    chunksDone: number;
    resumed: boolean;
  };
  /** A request failed and will be retried after `delayMs`. */
  retry: RetryEvent;
  /** The `.part` was discarded: the remote changed, or the earlier partial file could not be used. */
  restart: { reason: 'remote-changed' | 'cannot-resume'; message: string };
  /** Something the user should know that does not stop the download (e.g. no end-to-end check). */
  warning: { message: string };
}

export interface DownloadResult {
  url: string;
  /** Where the file is now. */
  path: string;
  size: number;
  /** The ETag the bytes were fetched under, or null when the server sent none. */
  etag: string | null;
  /** The whole file's digest ("sha-256=:B64:") when the server offered one (and it matched). */
  digest: string | null;
  verified: Verification;
  /** Some chunks came from an earlier, interrupted run (the sidecar). */
  resumed: boolean;
  /** Times the download started over because the remote changed. */
  restarts: number;
  /** Body bytes received by this call, retries and discarded attempts included. */
  bytesFetched: number;
  durationMs: number;
  /** bytesFetched per second of durationMs. */
  rate: number;
}

export interface DownloadContext {
  readonly o: ResolvedDownloadOptions;
  readonly target: DownloadTarget;
  readonly http: HttpDeps;
  readonly retry: RetryContext;
  readonly controller: ConcurrencyController;
  readonly events: Emitter<DownloadEvents>;
  readonly gate: PauseGate;
  /** Aborted by abort() or options.signal. */
  readonly signal: AbortSignal;
  /** Replaced when the download starts over (a tracker never forgets a chunk it counted). */
  progress: ProgressTracker;
  readonly stats: { bytesFetched: number };
}

export function emitProgress(ctx: DownloadContext): void {
  ctx.events.emit('progress', ctx.progress.snapshot());
}

/** A fresh tracker for a (re)started transfer, keeping the phase (e.g. paused). */
export function resetProgress(ctx: DownloadContext, totalBytes: number, totalChunks: number): void {
  const phase = ctx.progress.snapshot().phase;
  ctx.progress = new ProgressTracker();
  ctx.progress.setPhase(phase);
  ctx.progress.setConcurrency(ctx.controller.limit, 0);
  ctx.progress.plan(totalBytes, totalChunks, ctx.o.io.clock.now());
}
