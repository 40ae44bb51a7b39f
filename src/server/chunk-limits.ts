// The chunk sizes and counts this server offers: its configuration, narrowed to what its blob store can hold.
import type { BlobStore } from '../stores/types.js';
import type { ServerConfig } from './config.js';

export interface ChunkLimits {
  minChunkSize: number;
  defaultChunkSize: number;
  maxChunkSize: number;
  maxChunks: number;
}

/**
 * The configured limits within the blob store's (S3: chunks of at least 5 MiB but the last, at most
 * 10,000 of them, none over 5 GiB), so the server never accepts an upload its store cannot assemble. Throws when the
 * configuration leaves no chunk size the store accepts.
 */
export function chunkLimits(config: ServerConfig, blobs: BlobStore): ChunkLimits {
  const store = blobs.limits;
  const minChunkSize = Math.max(config.minChunkSize, store?.minChunkSize ?? 0);
  const maxChunkSize = Math.min(config.maxChunkSize, store?.maxChunkSize ?? Infinity);
  const maxChunks = Math.min(config.maxChunks, store?.maxChunks ?? Infinity);
  if (minChunkSize > config.maxChunkSize) {
    throw new Error(`The largest chunk size (${config.maxChunkSize} bytes) is below the blob store's smallest (${minChunkSize} bytes): raise --max-chunk-size.`);
  }
  if (minChunkSize > maxChunkSize) {
    throw new Error(`The smallest chunk size (${minChunkSize} bytes) is above the blob store's largest (${maxChunkSize} bytes): lower --min-chunk-size.`);
  }
  return {
    minChunkSize,
    defaultChunkSize: Math.min(Math.max(config.defaultChunkSize, minChunkSize), maxChunkSize),
    maxChunkSize,
    maxChunks,
  };
}
