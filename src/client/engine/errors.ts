// The one error base of the client: every error a transfer makes carries a `code` saying what went
// wrong, and the server's problem when it answered with one. UploadError (../upload/errors.ts),
// DownloadError (../download/errors.ts) and NetworkError (below) derive from it.
import { FerryError } from '../../protocol/index.js';
import type { NetworkFailure } from './network-failure.js';

/** Why a transfer stopped, in the words uploads and downloads share (each adds its own). */
export type StopReason =
  /** The server answered with a problem that retrying cannot fix (see `problem`). */
  | 'fatal'
  /** One request failed too many times in a row. */
  | 'retries-exhausted'
  /** The server stayed unreachable longer than the retry policy's outage budget. */
  | 'outage'
  /**
   * The server could not be reached and waiting would not help: nothing listens there or the host
   * does not exist (before it ever answered), or its TLS certificate was refused. See `code`.
   */
  | 'unreachable';

export class TransferError extends Error {
  /**
   * What went wrong, as precisely as known: the server's problem code ('unauthenticated'), a network
   * failure's code ('timeout'), else the reason the transfer stopped.
   */
  readonly code: string;
  /** The server's problem (problem+json, or a bare status mapped to one), when there was one. */
  readonly problem: FerryError | null;

  constructor(code: string, message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'TransferError';
    this.code = code;
    this.problem = problemIn(options.cause);
  }
}

/**
 * The code of an error that stopped a transfer for `reason`. A stop reason says only why the transfer
 * stopped, so what went wrong is its cause's code; any other reason ('protocol', 'invalid', ...) is
 * itself what went wrong.
 */
export function stopCode(reason: string, cause: unknown): string {
  if (!stopReasons.has(reason)) return reason;
  return cause instanceof TransferError || cause instanceof FerryError ? cause.code : reason;
}

const stopReasons = new Set<string>(['fatal', 'retries-exhausted', 'outage', 'unreachable'] satisfies StopReason[]);

function problemIn(cause: unknown): FerryError | null {
  if (cause instanceof FerryError) return cause;
  return cause instanceof TransferError ? cause.problem : null;
}

/** No HTTP response: connection refused/reset, DNS failure, or the per-request timeout fired. */
export class NetworkError extends TransferError {
  declare readonly code: NetworkFailure;
  readonly timeout: boolean;

  constructor(message: string, options: { cause?: unknown; timeout?: boolean; code?: NetworkFailure } = {}) {
    super(options.timeout ? 'timeout' : (options.code ?? 'network'), message, { cause: options.cause });
    this.name = 'NetworkError';
    this.timeout = options.timeout ?? false;
  }
}

export function isNetworkError(e: unknown): e is NetworkError {
  return e instanceof NetworkError;
}
