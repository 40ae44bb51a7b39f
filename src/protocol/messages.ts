// JSON bodies of the protocol as zod schemas; the inferred types are what both sides use.
import { z } from 'zod';
import { DigestAlgorithms } from './digest.js';
import { Metadata, readMetadata } from './metadata.js';

const digestText = z.string().regex(/^[a-z0-9-]+=:[A-Za-z0-9+/]*={0,2}:$/, 'expected "sha-256=:BASE64:"');

export const CreateUploadRequest = z.object({
  /** Display name; metadata only (bytes are stored by id), no path separators. */
  name: z.string(),
  size: z.number().int().nonnegative(),
  /** Requested chunk size; the server may adjust it within its limits (not with a first chunk). */
  chunkSize: z.number().int().positive().optional(),
  checksum: z.string().default('sha-256'),
  /** Optional digest of the whole file ("sha-256=:BASE64:"), verified at completion. */
  fileDigest: digestText.optional(),
  /** String keys to string values stored with the upload and the file (limits: DefaultLimits.maxMetadata*). */
  metadata: Metadata.optional(),
});
export type CreateUploadRequest = z.input<typeof CreateUploadRequest>;

/** Metadata in a response: string values, read leniently (an older server may send any JSON values). */
const storedMetadata = z.record(z.string(), z.unknown()).transform(readMetadata);

export const UploadStates = ['uploading', 'completing', 'complete', 'aborted', 'expired', 'failed'] as const;
export type UploadState = (typeof UploadStates)[number];

export const UploadStatus = z.object({
  uploadId: z.string(),
  uploadUrl: z.string(),
  state: z.enum(UploadStates),
  name: z.string(),
  size: z.number(),
  chunkSize: z.number(),
  totalChunks: z.number(),
  checksum: z.enum(DigestAlgorithms),
  fileDigest: z.string().nullable(),
  metadata: storedMetadata,
  chunksReceived: z.number(),
  bytesReceived: z.number(),
  /** Missing chunk indexes as ranges, e.g. "0-3,7"; empty when none are missing. */
  missing: z.string(),
  /**
   * Missing chunks the server has part of: the first `bytes` bytes of chunk `index` arrived in a
   * request that was cut, and are kept. PUT the rest with Ferry-Chunk-Offset: bytes. Empty where the
   * blob store keeps no part of a cut chunk (S3); absent from servers before this field.
   */
  staged: z.array(z.object({ index: z.number().int().nonnegative(), bytes: z.number().int().positive() })).optional(),
  createdAt: z.string(),
  expiresAt: z.string(),
  fileId: z.string().nullable(),
  fileUrl: z.string().nullable(),
});
export type UploadStatus = z.infer<typeof UploadStatus>;

export const ChunkAck = z.object({
  uploadId: z.string(),
  index: z.number(),
  size: z.number(),
  digest: z.string(),
  /** True when the chunk was already stored with this digest and nothing was written. */
  duplicate: z.boolean(),
  chunksReceived: z.number(),
  totalChunks: z.number(),
  state: z.enum(UploadStates),
  /** True on the response to the chunk that completed the upload (and on duplicates after it). */
  complete: z.boolean(),
  fileId: z.string().nullable(),
  fileUrl: z.string().nullable(),
});
export type ChunkAck = z.infer<typeof ChunkAck>;

/** Response to creation-with-first-chunk: the upload's status plus the first chunk's acknowledgement. */
export const CreateUploadResponse = UploadStatus.extend({ firstChunk: ChunkAck.nullable() });
export type CreateUploadResponse = z.infer<typeof CreateUploadResponse>;

export const Capabilities = z.object({
  protocol: z.literal('ferry'),
  version: z.number(),
  minChunkSize: z.number(),
  defaultChunkSize: z.number(),
  maxChunkSize: z.number(),
  maxChunks: z.number(),
  maxFileSize: z.number(),
  checksums: z.array(z.enum(DigestAlgorithms)),
  defaultChecksum: z.enum(DigestAlgorithms),
  uploadTtlSeconds: z.number(),
  creationWithFirstChunk: z.boolean(),
  fsync: z.boolean(),
  /** 'token': requests need an API key or a grant (Authorization: Bearer). Absent from older servers. */
  auth: z.enum(['open', 'token']).optional(),
  /** Downloads (GET of file bytes) one identity may have open at once; more are answered 429 too-many-downloads. */
  maxConcurrentDownloads: z.number().optional(),
  /** Bytes per second a request body must average over each window of minBodyRateWindowSeconds, or 408 (0: no minimum). */
  minBodyRate: z.number().optional(),
  minBodyRateWindowSeconds: z.number().optional(),
  /** Uploads in progress one identity may have at once; one more is answered 429 too-many-uploads. */
  maxOpenUploads: z.number().optional(),
  /** Declared bytes one identity's uploads in progress may add up to; past it, 429 quota-exceeded. */
  maxReservedBytes: z.number().optional(),
  /** Requests per second one identity may average, past a burst of rateBurst; past it, 429 rate-limited (absent: no limit). */
  rateLimit: z.number().optional(),
  rateBurst: z.number().optional(),
});
export type Capabilities = z.infer<typeof Capabilities>;

export const FileInfo = z.object({
  fileId: z.string(),
  fileUrl: z.string(),
  name: z.string(),
  size: z.number(),
  chunkSize: z.number(),
  totalChunks: z.number(),
  checksum: z.enum(DigestAlgorithms),
  /** Whole-file digest when known (declared by the client and verified), else null. */
  fileDigest: z.string().nullable(),
  metadata: storedMetadata,
  createdAt: z.string(),
  /** The identity that uploaded it. */
  owner: z.string().optional(),
});
export type FileInfo = z.infer<typeof FileInfo>;

/** GET /files/{id}/manifest: everything a downloader needs to verify each piece it fetches. */
export const FileManifest = FileInfo.extend({
  /** The file's strong ETag (also sent as the ETag header). */
  etag: z.string(),
  chunks: z.array(
    z.object({
      index: z.number(),
      offset: z.number(),
      size: z.number(),
      digest: z.string(),
    }),
  ),
});
export type FileManifest = z.infer<typeof FileManifest>;
