// The platform-neutral upload client (no Node-only or DOM-only imports). Applications import a
// platform entry instead: ./node/index.js or ./browser/index.js, which re-export all of this.
// (Downloads: ./node/download.js.) The layout of this folder is in README.md.
export type { Clock, Hasher, IncrementalHash, Random, Transport } from './engine/io.js';
export type { ByteSource, EngineIo, ResumeEntry, ResumeStore } from './upload/io.js';
export type { Finished, UploadEvents, UploadResult } from './upload/context.js';
export type { UploadOptions } from './upload/options.js';
export type { UploadHandle } from './upload/upload.js';
export type { Progress, TransferPhase } from './engine/progress.js';
export type { RetryEvent } from './engine/retry-loop.js';
export type { ChunkPlan, ChunkLimits } from './upload/plan.js';
export type { BytesSourceOptions } from './upload/bytes-source.js';
export type { ConcurrencyMode, ConcurrencyOptions, ConcurrencyChange } from './engine/concurrency.js';
export type { Failure, FailureKind, RetryPolicy, RetryState, RetryDecision } from './engine/retry.js';

export { startUpload } from './upload/upload.js';
export { bytesSource } from './upload/bytes-source.js';
export { MemoryResumeStore } from './upload/memory-resume-store.js';
export { NetworkError, isNetworkError } from './engine/errors.js';
export { UploadError, isUploadError, type UploadErrorReason } from './upload/errors.js';
export { ConcurrencyController, DefaultConcurrency } from './engine/concurrency.js';
export { DefaultRetryPolicy, backoffDelay, classifyError, decideRetry, parseRetryAfter } from './engine/retry.js';
export { ProgressTracker } from './engine/progress.js';
export { planChunks, chunkRange, missingChunks } from './upload/plan.js';
export { systemClock } from './engine/clock.js';
export { FerryError, isFerryError } from '../protocol/index.js';
