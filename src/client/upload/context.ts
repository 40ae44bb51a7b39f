// What the modules of one upload share: resolved options, I/O, progress, controller, events, state.
import type { ConcurrencyController } from '../engine/concurrency.js';
import type { Emitter } from '../engine/emitter.js';
import type { PauseGate } from '../engine/pause-gate.js';
import type { ProgressTracker } from '../engine/progress.js';
import type { RetryContext } from '../engine/retry-loop.js';
import type { TransferEvents } from '../engine/transfer.js';
import type { FerryApi } from './api.js';
import type { ByteSource } from './io.js';
import type { ResolvedOptions } from './options.js';
import type { ChunkPlan } from './plan.js';

export interface UploadEvents extends TransferEvents {
  /** The upload exists on the server (created now, or found in the resume store). */
  started: { uploadId: string; uploadUrl: string; resumed: boolean; chunkSize: number; totalChunks: number };
}

export interface UploadResult {
  uploadId: string;
  fileId: string;
  fileUrl: string;
  size: number;
  /** Whole-file digest when one was given or computed (and verified by the server), else null. */
  digest: string | null;
  chunks: number;
  /** Bytes put on the wire by this call, retries included. */
  bytesSent: number;
  durationMs: number;
  /** True when an earlier, interrupted upload of the same source was continued. */
  resumed: boolean;
}

/** The file the server assembled. */
export interface Finished {
  fileId: string;
  fileUrl: string;
}

/** The upload on the server this call is working on. */
export interface UploadRef {
  uploadId: string;
  uploadUrl: string;
  plan: ChunkPlan;
  resumeKey: string | null;
  fileDigest: string | null;
  resumed: boolean;
  finished: Finished | null;
}

/** What the server holds of this upload as far as the engine knows, kept up to date while it opens. */
export interface ServerUpload {
  /** A creation request went out and its answer was never read: the server may hold an upload no one can name. */
  unanswered: boolean;
  /** The upload once created or found. */
  upload: { uploadId: string; uploadUrl: string } | null;
}

export interface UploadContext {
  readonly o: ResolvedOptions;
  readonly api: FerryApi;
  readonly source: ByteSource;
  readonly progress: ProgressTracker;
  readonly controller: ConcurrencyController;
  readonly events: Emitter<UploadEvents>;
  readonly retry: RetryContext;
  readonly gate: PauseGate;
  readonly server: ServerUpload;
  /** Aborted by abort() or options.signal. */
  readonly signal: AbortSignal;
}
