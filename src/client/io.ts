// The client engine's I/O, as small interfaces: the engine is pure TypeScript, adapters supply these.
import type { DigestAlgorithm } from '../protocol/index.js';

/** The bytes to upload: a file on disk, a Blob, an array in memory. */
export interface ByteSource {
  /** Total size in bytes. */
  readonly size: number;
  /** Display name sent to the server (a file's base name). */
  readonly name: string;
  /**
   * What identifies this content for resuming (Node: absolute path, size, mtimeMs; browser: name,
   * size, lastModified). The engine adds the server URL. null: never resume this source.
   */
  readonly fingerprint: readonly (string | number)[] | null;
  /** Bytes [start, end); exactly end - start bytes, or a rejection. */
  read(start: number, end: number, signal?: AbortSignal): Promise<Uint8Array>;
  /**
   * The engine is done with bytes read() returned (their chunk was acknowledged): the source may reuse
   * the memory for a later read instead of allocating anew. Optional.
   */
  release?(bytes: Uint8Array): void;
  /** Releases what the source holds open (a file handle); the engine never calls it. */
  close?(): Promise<void>;
}

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

/** What the engine remembers about an upload in progress, to resume it after a restart. */
export interface ResumeEntry {
  uploadId: string;
  /** Absolute URL of the upload resource. */
  uploadUrl: string;
  serverUrl: string;
  name: string;
  size: number;
  chunkSize: number;
  totalChunks: number;
  /** Epoch ms when the upload was created. */
  createdAt: number;
  /** Epoch ms after which the server will have dropped it (as last reported). */
  expiresAt: number;
}

/** Remembers uploads in progress by fingerprint key (a JSON file, localStorage, memory). */
export interface ResumeStore {
  get(key: string): Promise<ResumeEntry | undefined>;
  set(key: string, entry: ResumeEntry): Promise<void>;
  delete(key: string): Promise<void>;
}

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason if it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** A uniform number in [0, 1), for jitter. */
export type Random = () => number;

/** Everything the engine does I/O through, together. */
export interface EngineIo {
  hasher: Hasher;
  fetch: Transport;
  resumeStore: ResumeStore;
  clock: Clock;
  random: Random;
}
