// Default server limits; the server's capabilities response is the authority a client follows.

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const TiB = 1024 * GiB;

export const DefaultLimits = {
  minChunkSize: 256 * KiB,
  defaultChunkSize: 8 * MiB,
  maxChunkSize: 128 * MiB,
  maxFileSize: 1 * TiB,
  /** Chunks per upload; matches S3's 10,000-part ceiling so every backend can hold any upload. */
  maxChunks: 10_000,
  /** Bytes of JSON accepted on create (name + metadata). */
  maxCreateBodyBytes: 64 * KiB,
  /** Metadata is a flat map of string keys to string values: at most this many entries... */
  maxMetadataEntries: 32,
  /** ...with keys of 1 to this many characters... */
  maxMetadataKeyLength: 64,
  /** ...values of at most this many characters... */
  maxMetadataValueLength: 1024,
  /** ...and at most this many bytes as JSON, all together. */
  maxMetadataBytes: 16 * KiB,
  maxNameLength: 255,
  /** Incomplete uploads expire this long after their last activity. */
  uploadTtlSeconds: 24 * 60 * 60,
} as const;

/**
 * The chunk size to use for a file: the requested (or default) size clamped to the server's
 * limits, raised if needed so the file fits in maxChunks chunks.
 */
export function chooseChunkSize(
  fileSize: number,
  requested: number | undefined,
  limits: { minChunkSize: number; defaultChunkSize: number; maxChunkSize: number; maxChunks: number },
): number {
  let size = requested ?? limits.defaultChunkSize;
  size = Math.min(Math.max(size, limits.minChunkSize), limits.maxChunkSize);
  const floor = Math.ceil(fileSize / limits.maxChunks);
  if (size < floor) size = Math.min(floor, limits.maxChunkSize);
  return size;
}

/** Number of chunks of a file; a 0-byte file is one empty chunk so it is uploaded like any other. */
export function chunkCount(fileSize: number, chunkSize: number): number {
  return fileSize === 0 ? 1 : Math.ceil(fileSize / chunkSize);
}

/** Byte length of chunk `index`. */
export function chunkLength(fileSize: number, chunkSize: number, index: number): number {
  const start = index * chunkSize;
  return Math.max(0, Math.min(chunkSize, fileSize - start));
}
