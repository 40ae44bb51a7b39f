// What the modules of one download share: options, target, HTTP, retry, concurrency, events, progress.
import type { ConcurrencyController } from '../engine/concurrency.js';
import type { Emitter } from '../engine/emitter.js';
import type { ServerContact } from '../engine/network-failure.js';
import type { PauseGate } from '../engine/pause-gate.js';
import { ProgressTracker } from '../engine/progress.js';
import type { RetryContext, RetryEvent } from '../engine/retry-loop.js';
import type { TransferEvents } from '../engine/transfer.js';
import { DownloadError } from './errors.js';
import type { HttpDeps } from './http.js';
import type { DownloadTarget } from './io.js';
import type { ResolvedDownloadOptions } from './options.js';
import type { DownloadMode } from './probe.js';

/** How the finished file was checked: every chunk against the manifest, the whole file, or not at all. */
export type Verification = 'chunks' | 'repr-digest' | 'none';

/** progress: the same Progress as uploads (bytesAcked = bytes verified and written, bytesSent = bytes requested). */
export interface DownloadEvents extends TransferEvents {
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

/** A fresh tracker for a (re)started transfer, keeping the phase (e.g. paused). */
export function resetProgress(ctx: DownloadContext, totalBytes: number, totalChunks: number): void {
  const phase = ctx.progress.snapshot().phase;
  ctx.progress = new ProgressTracker();
  ctx.progress.setPhase(phase);
  ctx.progress.setConcurrency(ctx.controller.limit, 0);
  ctx.progress.plan(totalBytes, totalChunks, ctx.o.io.clock.now());
}

/** The HTTP side of the options; `contact` is marked by the first response. */
export function httpDeps(o: ResolvedDownloadOptions, contact: ServerContact): HttpDeps {
  return { fetch: o.io.fetch, ranges: o.io.ranges, clock: o.io.clock, headers: o.headers, idleTimeoutMs: o.idleTimeoutMs, contact };
}

/** The shared retry loop's context for a download: its policy, and DownloadErrors when it gives up. */
export function retryContext(o: ResolvedDownloadOptions, contact: ServerContact, onRetry?: (event: RetryEvent) => void): RetryContext {
  return {
    policy: o.retry,
    clock: o.io.clock,
    random: o.io.random,
    ...(onRetry ? { onRetry } : {}),
    giveUp: (reason, message, cause) => new DownloadError(reason, message, { cause }),
    contact,
  };
}
