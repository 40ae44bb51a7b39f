// The download options and their one set of defaults (retry and concurrency shared with uploads).
import { MiB } from '../../protocol/index.js';
import { DefaultConcurrency, type ConcurrencyMode } from '../engine/concurrency.js';
import type { TransferIo } from '../engine/io.js';
import { httpUrl, resolveTransferIo } from '../engine/options.js';
import { DefaultRetryPolicy, type RetryPolicy } from '../engine/retry.js';
import { DownloadError } from './errors.js';
import type { RangeTransport } from './io.js';

export type DownloadIo = TransferIo & {
  /**
   * The direct path for range GETs (Node: http: URLs). Default: the platform's, unless `fetch` is
   * given (then every request goes through that fetch); null: fetch only.
   */
  ranges: RangeTransport | null;
};

export interface DownloadOptions extends Partial<DownloadIo> {
  /** 'auto' (adaptive, the default) or a fixed number of ranges in flight; 1 is strictly sequential. */
  concurrency?: ConcurrencyMode;
  /** Upper bound of adaptive concurrency (default 16). */
  maxConcurrency?: number;
  /** Range size for plain HTTP servers (default 8 MiB); a Ferry server's manifest sets its own. */
  chunkSize?: number;
  retry?: Partial<RetryPolicy>;
  /** A request that receives nothing for this long is dropped and retried (default 30 s). */
  idleTimeoutMs?: number;
  /** Extra request headers (e.g. authorization). */
  headers?: Record<string, string>;
  /** Continue from `<destination>.part.ferry` when it matches the remote file (default true). */
  resume?: boolean;
  /** The sidecar is rewritten at most this often (default 200 ms); a crash re-fetches at most that much more. */
  stateIntervalMs?: number;
  /** How many times to start over when the remote file changes during the download (default 3). */
  maxRestarts?: number;
  /** Aborting it is abort(): requests stop, the `.part` and sidecar stay for a later resume. */
  signal?: AbortSignal;
}

export interface ResolvedDownloadOptions {
  url: string;
  concurrency: ConcurrencyMode;
  maxConcurrency: number;
  chunkSize: number;
  retry: RetryPolicy;
  idleTimeoutMs: number;
  headers: Record<string, string>;
  resume: boolean;
  stateIntervalMs: number;
  maxRestarts: number;
  signal: AbortSignal | undefined;
  io: DownloadIo;
}

export const DefaultDownloadChunkSize = 8 * MiB;

/**
 * Ranges in flight when an adaptive download starts (uploads start at 2). Range GETs cost the server
 * only a read each, and a 1 GiB download on loopback is over before the controller's 1 s windows
 * have grown 2 to 4: starting at 4 (as aria2c -x4 does) was ~10% faster there, at the same CPU.
 */
export const InitialDownloadConcurrency = 4;

/** Fills in defaults (platform first, then the core's); throws DownloadError 'invalid'. */
export function resolveDownloadOptions(url: string | URL, options: DownloadOptions, platform: Partial<DownloadIo>): ResolvedDownloadOptions {
  const invalid = (msg: string, code?: string) => new DownloadError('invalid', msg, { code });
  const href = httpUrl(url, invalid);
  const io = resolveTransferIo(options, platform, invalid);
  // A caller's own fetch sees every request (it may add credentials, log, or shape traffic).
  const ranges = options.ranges !== undefined ? options.ranges : options.fetch ? null : (platform.ranges ?? null);
  const positive = (name: string, v: number) => {
    if (!(Number.isSafeInteger(v) && v > 0)) throw invalid(`${name} must be a positive integer; got ${v}`);
    return v;
  };
  const nonNegative = (name: string, v: number) => {
    if (!(Number.isSafeInteger(v) && v >= 0)) throw invalid(`${name} must be an integer >= 0; got ${v}`);
    return v;
  };
  return {
    url: href,
    concurrency: options.concurrency ?? 'auto',
    maxConcurrency: positive('maxConcurrency', options.maxConcurrency ?? DefaultConcurrency.max),
    chunkSize: positive('chunkSize', options.chunkSize ?? DefaultDownloadChunkSize),
    retry: { ...DefaultRetryPolicy, ...options.retry },
    idleTimeoutMs: positive('idleTimeoutMs', options.idleTimeoutMs ?? 30_000),
    headers: options.headers ?? {},
    resume: options.resume ?? true,
    stateIntervalMs: nonNegative('stateIntervalMs', options.stateIntervalMs ?? 200),
    maxRestarts: nonNegative('maxRestarts', options.maxRestarts ?? 3),
    signal: options.signal,
    io: { ...io, ranges },
  };
}
