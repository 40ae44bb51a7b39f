// The client's own errors: a request that never got an HTTP answer, and why an upload gave up.
import { FerryError } from '../protocol/index.js';

/** No HTTP response: connection refused/reset, DNS failure, or the per-request timeout fired. */
export class NetworkError extends Error {
  readonly timeout: boolean;

  constructor(message: string, options: { cause?: unknown; timeout?: boolean } = {}) {
    super(message, { cause: options.cause });
    this.name = 'NetworkError';
    this.timeout = options.timeout ?? false;
  }
}

export type UploadErrorReason =
  /** The server answered with a problem that retrying cannot fix (see `problem`). */
  | 'fatal'
  /** One chunk (or request) failed too many times in a row. */
  | 'retries-exhausted'
  /** The server stayed unreachable longer than the retry policy's outage budget. */
  | 'outage'
  /** abort() or the options' signal. */
  | 'aborted'
  /** The server answered with something that is not the Ferry protocol. */
  | 'protocol'
  /** The source or options cannot be uploaded (unreadable file, unsupported option). */
  | 'invalid';

/** Why upload(...).result rejected. The server's problem, if any, is `problem`; the last error `cause`. */
export class UploadError extends Error {
  readonly reason: UploadErrorReason;
  readonly uploadId: string | null;
  readonly problem: FerryError | null;

  constructor(
    reason: UploadErrorReason,
    message: string,
    options: { cause?: unknown; uploadId?: string | null } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'UploadError';
    this.reason = reason;
    this.uploadId = options.uploadId ?? null;
    this.problem = options.cause instanceof FerryError ? options.cause : null;
  }
}

export function isUploadError(e: unknown): e is UploadError {
  return e instanceof UploadError;
}

export function isNetworkError(e: unknown): e is NetworkError {
  return e instanceof NetworkError;
}
