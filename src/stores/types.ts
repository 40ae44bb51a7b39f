// The two storage interfaces the server stands on: metadata (source of truth) and blobs (bytes).
import type { DigestAlgorithm, UploadState } from '../protocol/index.js';

export interface UploadRecord {
  id: string;
  state: UploadState;
  name: string;
  size: number;
  chunkSize: number;
  totalChunks: number;
  algorithm: DigestAlgorithm;
  /** Declared whole-file digest ("sha-256=:...:") or null. */
  fileDigest: string | null;
  metadata: Record<string, unknown>;
  /** Opaque handle the blob store returned from begin() (a path, an S3 upload id...). */
  blobHandle: string;
  chunksReceived: number;
  bytesReceived: number;
  createdAt: number;
  updatedAt: number;
  expiresAt: number;
  fileId: string | null;
}

export interface ChunkRecord {
  index: number;
  size: number;
  /** "sha-256=:...:" */
  digest: string;
  /** What the blob store returned for the chunk (e.g. an S3 part ETag); '' when nothing. */
  receipt: string;
}

export interface FileRecord {
  id: string;
  uploadId: string;
  name: string;
  size: number;
  chunkSize: number;
  totalChunks: number;
  algorithm: DigestAlgorithm;
  fileDigest: string | null;
  /** Strong entity tag (quoted), derived from the chunk digests: names these exact bytes. */
  etag: string;
  metadata: Record<string, unknown>;
  /** Opaque reference the blob store returned from complete(). */
  blobRef: string;
  createdAt: number;
}

export type RecordChunkResult =
  | { outcome: 'recorded'; chunksReceived: number; bytesReceived: number }
  /** The chunk was already recorded; `existing` is what is stored (compare digests). */
  | { outcome: 'exists'; existing: ChunkRecord }
  /** The upload is no longer accepting chunks. */
  | { outcome: 'closed'; state: UploadState };

/** Uploads, their received chunks, per-chunk write claims, and finished files. Times are epoch ms. */
export interface MetaStore {
  createUpload(upload: UploadRecord): Promise<void>;
  getUpload(uploadId: string): Promise<UploadRecord | undefined>;
  /** Received chunks of an upload, ascending by index. */
  listChunks(uploadId: string): Promise<ChunkRecord[]>;
  getChunk(uploadId: string, index: number): Promise<ChunkRecord | undefined>;
  /**
   * Takes the exclusive right to write chunk `index` until `expiresAt` (or until released).
   * Returns false while another unexpired claim holds it.
   */
  claimChunk(uploadId: string, index: number, token: string, expiresAt: number): Promise<boolean>;
  releaseChunk(uploadId: string, index: number, token: string): Promise<void>;
  /**
   * Records a verified, durable chunk (only while the upload is uploading), updates the counters and
   * slides the expiry to `expiresAt`, atomically.
   */
  recordChunk(uploadId: string, chunk: ChunkRecord, expiresAt: number): Promise<RecordChunkResult>;
  /**
   * Moves an upload from one of `from` to `to` (with optional field changes); returns false when its
   * state was not in `from`. This is how exactly one request wins completion, abort or expiry.
   */
  transition(uploadId: string, from: UploadState[], to: UploadState, patch?: { fileId?: string }): Promise<boolean>;
  /** Drops the chunk rows and claims of a finished, aborted or expired upload (the upload row stays). */
  forgetChunks(uploadId: string): Promise<void>;
  createFile(file: FileRecord): Promise<void>;
  getFile(fileId: string): Promise<FileRecord | undefined>;
  listFiles(limit: number): Promise<FileRecord[]>;
  /** Uploads in `state` whose expiresAt is before `now` (state 'uploading' = due for expiry). */
  listDue(state: UploadState, now: number, limit: number): Promise<UploadRecord[]>;
  /** Uploads with every chunk received still in state 'uploading' (a completion a crash interrupted). */
  listUnfinished(limit: number): Promise<UploadRecord[]>;
  /** Deletes the upload row entirely (after its tombstone retention). */
  deleteUpload(uploadId: string): Promise<void>;
  close(): Promise<void>;
}

/** Where a chunk goes: its index and byte range in the final file. */
export interface ChunkPlace {
  index: number;
  offset: number;
  length: number;
}

export interface BlobStoreOptions {
  signal?: AbortSignal;
}

export interface ReadOptions extends BlobStoreOptions {
  /**
   * The caller is done with each piece (hashed it, or its socket has taken it) before it asks for the
   * next, and with the last one when it stops iterating (however it stops), so the store may read
   * every piece into the same memory, and give that memory to a later read, instead of allocating.
   */
  reuseBuffers?: boolean;
}

/** Chunk bytes and assembled files. The metadata store, not this, says which chunks are received. */
export interface BlobStore {
  /** Prepares storage for a new upload of `size` bytes; returns an opaque handle. */
  begin(uploadId: string, size: number, totalChunks: number): Promise<string>;
  /**
   * Writes exactly `place.length` bytes from `body` as chunk `place.index`, durable (fsync when on)
   * before it resolves. Returns a receipt to pass back to complete(). Rejects if `body` fails.
   */
  putChunk(handle: string, place: ChunkPlace, body: AsyncIterable<Uint8Array>, options?: BlobStoreOptions): Promise<string>;
  /** Turns the received chunks into one file without copying bytes; returns the file's reference. */
  complete(handle: string, fileId: string, receipts: string[]): Promise<string>;
  /** Streams bytes [start, end) of a completed file. */
  read(fileRef: string, start: number, end: number, options?: ReadOptions): AsyncIterable<Uint8Array>;
  /**
   * Every incomplete upload whose storage exists, with the upload id it was begun for: what recovery
   * after a crash compares with the metadata to free what no upload is using any more.
   */
  listIncomplete(): Promise<Array<{ uploadId: string; handle: string }>>;
  /** Frees an incomplete upload's storage; no error if already gone. */
  abort(handle: string): Promise<void>;
  /** Deletes a completed file; no error if already gone. */
  deleteFile(fileRef: string): Promise<void>;
  close(): Promise<void>;
}
