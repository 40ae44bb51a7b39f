// Why an upload gave up: the shared reasons plus the upload's own, and the upload it was working on.
import { stopCode, TransferError, type StopReason } from '../engine/errors.js';

export type UploadErrorReason =
  | StopReason
  /** abort() or the options' signal. */
  | 'aborted'
  /** The server answered with something that is not the Ferry protocol. */
  | 'protocol'
  /** The source or options cannot be uploaded (unreadable file, unsupported option). */
  | 'invalid';

/** Why upload(...).result rejected. The server's problem, if any, is `problem`; the last error `cause`. */
export class UploadError extends TransferError {
  readonly reason: UploadErrorReason;
  readonly uploadId: string | null;

  constructor(reason: UploadErrorReason, message: string, options: { cause?: unknown; uploadId?: string | null; code?: string } = {}) {
    super(options.code ?? stopCode(reason, options.cause), message, { cause: options.cause });
    this.name = 'UploadError';
    this.reason = reason;
    this.uploadId = options.uploadId ?? null;
  }
}

export function isUploadError(e: unknown): e is UploadError {
  return e instanceof UploadError;
}
