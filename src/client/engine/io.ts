// The I/O every transfer does, as small interfaces: the engine is pure TypeScript, adapters supply these.
// Upload-only I/O (the source, the resume store) is in ../upload/io.ts.
import type { DigestAlgorithm } from '../../protocol/index.js';

/** An incremental hash (for a whole-file digest computed in one ordered pass). */
export interface IncrementalHash {
  /**
   * Feeds `bytes`. Without `hashed` the caller may reuse them as soon as this returns. With it, a
   * hash that works elsewhere (a worker thread) may read them later, and calls `hashed(bytes)` once it
   * no longer needs them; a hash that works at once calls it before returning.
   */
  update(bytes: Uint8Array, hashed?: (bytes: Uint8Array) => void): void;
  /** The digest as the protocol's text form, "sha-256=:BASE64:". */
  digest(): Promise<string>;
}

export interface Hasher {
  /** The digest of `bytes` as the protocol's text form, "sha-256=:BASE64:". */
  digest(bytes: Uint8Array, algorithm: DigestAlgorithm): Promise<string>;
  /** Present when the platform can hash a stream; needed only for `fileDigest: 'compute'`. */
  createHash?(algorithm: DigestAlgorithm): IncrementalHash;
}

/** A fetch-compatible function; the default is globalThis.fetch. */
export type Transport = (url: string, init: RequestInit) => Promise<Response>;

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason if it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** A uniform number in [0, 1), for jitter. */
export type Random = () => number;

/** What uploads and downloads both do I/O through. */
export interface TransferIo {
  hasher: Hasher;
  fetch: Transport;
  clock: Clock;
  random: Random;
}
