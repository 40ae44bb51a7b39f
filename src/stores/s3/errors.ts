// S3 failures in words: RGW's error bodies carry no message, so errors are told apart by name and HTTP status.
import { StoredBytesMismatch } from '../errors.js';
import { FerryError } from '../../protocol/index.js';

/** What an SDK error says about itself. */
export interface S3Failure {
  /** The S3 error code (NoSuchUpload...), or the Node/SDK error name for failures without a response. */
  name: string;
  /** HTTP status of S3's answer; undefined when there was none (refused connection, DNS, timeout). */
  status: number | undefined;
  /** A system error code (ECONNREFUSED...) when the request never got an answer. */
  code: string | undefined;
  /** S3's message, when it sent one worth repeating. */
  message: string | undefined;
}

export function s3Failure(e: unknown): S3Failure {
  const err = (e ?? {}) as { name?: unknown; message?: unknown; code?: unknown; $metadata?: { httpStatusCode?: unknown } };
  const status = typeof err.$metadata?.httpStatusCode === 'number' ? err.$metadata.httpStatusCode : undefined;
  const name = typeof err.name === 'string' ? err.name : 'Error';
  const message = typeof err.message === 'string' && err.message !== '' && err.message !== 'UnknownError' && err.message !== name ? err.message : undefined;
  return { name, status, code: typeof err.code === 'string' ? err.code : undefined, message };
}

/**
 * The multipart upload (or object) is not there: AWS answers NoSuchUpload, RGW NoSuchKey for a gone
 * upload's parts; a HEAD has no body, so its 404 comes named NotFound. Any other 404 (NoSuchBucket: a
 * missing or mistyped bucket) is not "gone": treating it so would report aborts and deletes as done.
 */
export function isGone(e: unknown): boolean {
  const f = s3Failure(e);
  return f.status === 404 && (f.name === 'NoSuchUpload' || f.name === 'NoSuchKey' || f.name === 'NotFound');
}

/**
 * CompleteMultipartUpload failed in a way a finished object may explain: AWS answers NoSuchUpload once
 * an upload is completed (or aborted); RGW 16 answers 500 InternalError for a completed or aborted one.
 */
export function mayBeCompleted(e: unknown): boolean {
  const f = s3Failure(e);
  return isGone(e) || (f.status === 500 && f.name === 'InternalError');
}

export function isAbort(e: unknown): boolean {
  return (e as { name?: unknown } | null)?.name === 'AbortError';
}

/** "NoSuchBucket (HTTP 404)", "ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1". */
export function describeFailure(e: unknown): string {
  const f = s3Failure(e);
  if (f.status !== undefined) return `${f.name} (HTTP ${f.status})${f.message ? `: ${f.message}` : ''}`;
  const what = f.code ?? f.name;
  return f.message ? `${what}: ${f.message}` : what;
}

/**
 * The error a store operation throws: the out-of-space and overload problems Ferry answers with
 * 507 and 503, anything else an Error naming the operation, the key and what S3 said.
 */
export function s3Error(operation: string, key: string, e: unknown): Error {
  if (e instanceof FerryError || isAbort(e)) return e as Error;
  const f = s3Failure(e);
  let err: Error;
  if (f.status === 507 || f.name === 'QuotaExceeded' || f.name === 'InsufficientCapacity') {
    err = new FerryError('insufficient-storage', 'The object store has no room left for this upload.');
  } else if (f.status === 503 || f.name === 'SlowDown') {
    err = new FerryError('service-unavailable', 'The object store is overloaded; try again shortly.');
  } else if (f.name === 'InvalidPart') {
    // Complete lists each recorded chunk's ETag: a part S3 holds with other bytes than were recorded
    // (a stalled writer's late upload replaced it) or a part missing fails here, rather than assembling.
    err = new StoredBytesMismatch(`S3 ${operation} ${key}: a part's bytes are not the ones recorded for its chunk, or a part is missing (${describeFailure(e)}).`);
  } else if (f.name === 'EntityTooSmall') {
    err = new Error(`S3 ${operation} ${key}: a part other than the last is smaller than the service's minimum part size (${describeFailure(e)}).`);
  } else {
    err = new Error(`S3 ${operation} ${key} failed: ${describeFailure(e)}.`);
  }
  err.cause = e;
  return err;
}
