// The upload options, their one set of defaults, and the resume key.
import { DefaultDigestAlgorithm, isDigestAlgorithm, parseDigest, type DigestAlgorithm } from '../../protocol/index.js';
import { DefaultConcurrency, type ConcurrencyMode } from '../engine/concurrency.js';
import { httpUrl, resolveTransferIo } from '../engine/options.js';
import { DefaultRetryPolicy, type RetryPolicy } from '../engine/retry.js';
import { defaultRequestTimeoutMs } from './api.js';
import { UploadError } from './errors.js';
import type { EngineIo } from './io.js';
import { MemoryResumeStore } from './memory-resume-store.js';

export interface UploadOptions extends Partial<EngineIo> {
  /** The Ferry server's base URL. */
  server: string | URL;
  /** Name to store the file under (default: the source's name). */
  name?: string;
  /** Requested chunk size in bytes (default: the server's); kept within the server's limits. */
  chunkSize?: number;
  /** 'auto' (adaptive, the default) or a fixed number of chunks in flight; 1 is strictly sequential. */
  concurrency?: ConcurrencyMode;
  /** Upper bound of adaptive concurrency (default 16). */
  maxConcurrency?: number;
  /** Chunks read and hashed ahead of those on the wire (default 2). */
  readAhead?: number;
  checksum?: DigestAlgorithm;
  /**
   * Digest of the whole file ("sha-256=:B64:") for the server to verify at completion, or 'compute'
   * to compute it first (one extra read of the source; needs a hasher with createHash).
   */
  fileDigest?: string;
  /** String keys to string values (the server's limits: 32 entries, 64-character keys, 1,024-character values, 16 KiB). */
  metadata?: Record<string, string>;
  retry?: Partial<RetryPolicy>;
  /** Timeout of each whole request (default: 30 s + body size at 64 KiB/s). */
  requestTimeoutMs?: number;
  /** Extra request headers (e.g. authorization). */
  headers?: Record<string, string>;
  /** Remember the upload under the source's fingerprint and resume it later (default true). */
  resume?: boolean;
  /** Aborting it is abort(): cancels requests, deletes the upload, forgets the resume entry. */
  signal?: AbortSignal;
}

export interface ResolvedOptions {
  server: string;
  name: string | undefined;
  chunkSize: number | undefined;
  concurrency: ConcurrencyMode;
  maxConcurrency: number;
  readAhead: number;
  checksum: DigestAlgorithm;
  fileDigest: string | 'compute' | undefined;
  metadata: Record<string, string> | undefined;
  retry: RetryPolicy;
  timeoutMs: (bodyBytes: number) => number;
  headers: Record<string, string>;
  resume: boolean;
  signal: AbortSignal | undefined;
  io: EngineIo;
}

/** Fills in defaults (platform defaults first, then the core's); throws UploadError 'invalid'. */
export function resolveOptions(options: UploadOptions, platform: Partial<EngineIo>): ResolvedOptions {
  const invalid = (msg: string, code?: string) => new UploadError('invalid', msg, { code });
  const io = resolveTransferIo(options, platform, invalid);
  const server = httpUrl(options.server, invalid);
  const checksum = options.checksum ?? DefaultDigestAlgorithm;
  if (!isDigestAlgorithm(checksum)) throw invalid(`Unsupported checksum ${String(checksum)}`);
  if (options.fileDigest !== undefined && options.fileDigest !== 'compute') {
    try {
      parseDigest(options.fileDigest, checksum);
    } catch (e) {
      throw new UploadError('invalid', `Invalid fileDigest: ${(e as Error).message}`, { cause: e });
    }
  }
  const readAhead = options.readAhead ?? 2;
  if (!(Number.isInteger(readAhead) && readAhead >= 0)) throw invalid(`readAhead must be an integer >= 0`);
  const requestTimeoutMs = options.requestTimeoutMs;
  return {
    server,
    name: options.name,
    chunkSize: options.chunkSize,
    concurrency: options.concurrency ?? 'auto',
    maxConcurrency: options.maxConcurrency ?? DefaultConcurrency.max,
    readAhead,
    checksum,
    fileDigest: options.fileDigest,
    metadata: options.metadata,
    retry: { ...DefaultRetryPolicy, ...options.retry },
    timeoutMs: requestTimeoutMs !== undefined ? () => requestTimeoutMs : defaultRequestTimeoutMs,
    headers: options.headers ?? {},
    resume: options.resume ?? true,
    signal: options.signal,
    io: { ...io, resumeStore: options.resumeStore ?? platform.resumeStore ?? new MemoryResumeStore() },
  };
}

/** The resume store key of a source on a server; null when the source cannot be resumed. */
export function resumeKey(serverUrl: string, fingerprint: readonly (string | number)[] | null): string | null {
  return fingerprint === null ? null : JSON.stringify([serverUrl, ...fingerprint]);
}
