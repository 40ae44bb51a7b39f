// The platform-neutral client engine (no Node-only or DOM-only imports). Applications import a
// platform entry instead: ./node/index.js or ./browser/index.js, which re-export all of this.
export type { ByteSource, Clock, EngineIo, Hasher, IncrementalHash, Random, ResumeEntry, ResumeStore, Transport } from './io.js';
export type { Finished, UploadEvents, UploadResult } from './context.js';
export type { UploadOptions } from './options.js';
export type { UploadHandle } from './upload.js';
export type { Progress, TransferPhase } from './progress.js';
export type { RetryEvent } from './retry-loop.js';
export type { ChunkPlan, ChunkLimits } from './plan.js';
export type { BytesSourceOptions } from './bytes-source.js';
export type { ConcurrencyMode, ConcurrencyOptions, ConcurrencyChange } from './concurrency.js';
export type { Failure, FailureKind, RetryPolicy, RetryState, RetryDecision } from './retry.js';

export { startUpload } from './upload.js';
export { bytesSource } from './bytes-source.js';
export { MemoryResumeStore } from './memory-resume-store.js';
export { NetworkError, UploadError, isNetworkError, isUploadError, type UploadErrorReason } from './errors.js';
export { ConcurrencyController, DefaultConcurrency } from './concurrency.js';
export { DefaultRetryPolicy, backoffDelay, classifyError, decideRetry, parseRetryAfter } from './retry.js';
export { ProgressTracker } from './progress.js';
export { planChunks, chunkRange, missingChunks } from './plan.js';
export { systemClock } from './system-clock.js';
export { FerryError, isFerryError } from '../protocol/index.js';
