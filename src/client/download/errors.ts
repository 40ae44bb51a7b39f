// Why a download gave up. Same shape as UploadError (reason + code + cause + problem), plus the reasons
// only a download has: the remote changed under it, or the bytes failed the final check.
import { FerryError } from '../../protocol/index.js';
import { stopCode, TransferError, type StopReason } from '../engine/errors.js';

export type DownloadErrorReason =
  | StopReason
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

export class DownloadError extends TransferError {
  readonly reason: DownloadErrorReason;

  constructor(reason: DownloadErrorReason, message: string, options: { cause?: unknown; code?: string } = {}) {
    super(options.code ?? stopCode(reason, options.cause), message, { cause: options.cause });
    this.name = 'DownloadError';
    this.reason = reason;
  }
}

export function isDownloadError(e: unknown): e is DownloadError {
  return e instanceof DownloadError;
}

/** The remote file is not the one the download started with; `why` says how that showed. */
export function remoteChanged(why: string): DownloadError {
  return new DownloadError('remote-changed', `The remote file changed during the download (${why}).`);
}

/** The DownloadError a failure stands for; our own errors stay as they are. */
export function toDownloadError(e: unknown): DownloadError {
  if (e instanceof DownloadError) return e;
  if (e instanceof FerryError) return new DownloadError('fatal', e.message, { cause: e });
  const message = e instanceof Error ? e.message : String(e);
  return new DownloadError(e instanceof RangeError || e instanceof TypeError ? 'invalid' : 'fatal', message, { cause: e });
}
