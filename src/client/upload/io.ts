// What an upload does I/O through besides the shared engine's: the bytes to send and the resume store.
import type { TransferIo } from '../engine/io.js';

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

/** Everything an upload does I/O through. */
export interface EngineIo extends TransferIo {
  resumeStore: ResumeStore;
}
