// Why a download gave up. Same shape as UploadError (reason + cause + problem), plus the reasons only
// a download has: the remote changed under it, or the bytes failed the final check.
import { FerryError } from '../protocol/index.js';
import { UploadError } from './errors.js';

export type DownloadErrorReason =
  /** The server answered with a problem that retrying cannot fix (see `problem`). */
  | 'fatal'
  /** One range (or request) failed too many times in a row. */
  | 'retries-exhausted'
  /** The server stayed unreachable longer than the retry policy's outage budget. */
  | 'outage'
  /** abort() or the options' signal; the .part and sidecar are kept unless asked otherwise. */
  | 'aborted'
  /** A malformed answer (wrong Content-Range, a body of the wrong length): retried as transient. */
  | 'protocol'
  /** The remote file is not the one the download started with (ETag, size, or a 200 to If-Range). */
  | 'remote-changed'
  /** The assembled bytes do not match the file's digest or ETag. */
  | 'verification'
  /** Bad options, or the destination cannot be written. */
  | 'invalid';

export class DownloadError extends Error {
  readonly reason: DownloadErrorReason;
  readonly problem: FerryError | null;

  constructor(reason: DownloadErrorReason, message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'DownloadError';
    this.reason = reason;
    this.problem = options.cause instanceof FerryError ? options.cause : null;
  }
}

export function isDownloadError(e: unknown): e is DownloadError {
  return e instanceof DownloadError;
}

/**
 * The DownloadError a failure stands for. The shared retry loop wraps what it gives up on in an
 * UploadError; unwrap it so download callers see one error type, and keep our own errors as they are.
 */
export function toDownloadError(e: unknown): DownloadError {
  if (e instanceof DownloadError) return e;
  if (e instanceof UploadError) {
    // 'fatal': the loop gave up at once because the error itself was final (e.g. remote-changed).
    if (e.reason === 'fatal' && e.cause instanceof DownloadError) return e.cause;
    return new DownloadError(e.reason === 'protocol' ? 'protocol' : e.reason, e.message, { cause: e.cause ?? e });
  }
  if (e instanceof FerryError) return new DownloadError('fatal', e.message, { cause: e });
  const message = e instanceof Error ? e.message : String(e);
  return new DownloadError(e instanceof RangeError || e instanceof TypeError ? 'invalid' : 'fatal', message, { cause: e });
}
