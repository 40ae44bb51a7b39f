// Chunk planning: the chunk size for a file under the server's limits, chunk ranges, missing chunks.
import {
  chooseChunkSize,
  chunkCount,
  chunkLength,
  FerryError,
  parseIndexRanges,
  type Capabilities,
} from '../../protocol/index.js';

export interface ChunkPlan {
  size: number;
  chunkSize: number;
  totalChunks: number;
}

export type ChunkLimits = Pick<Capabilities, 'minChunkSize' | 'defaultChunkSize' | 'maxChunkSize' | 'maxChunks' | 'maxFileSize'>;

/**
 * The plan for a file of `size` bytes: the requested chunk size (or the server's default) within
 * the limits, raised so the file fits in maxChunks. Throws file-too-large when nothing fits.
 */
export function planChunks(size: number, requested: number | undefined, limits: ChunkLimits): ChunkPlan {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`invalid file size ${size}`);
  if (requested !== undefined && !(Number.isSafeInteger(requested) && requested > 0)) {
    throw new RangeError(`invalid chunk size ${requested}`);
  }
  if (size > limits.maxFileSize) {
    throw new FerryError('file-too-large', `${size} bytes is more than the server's limit of ${limits.maxFileSize}.`);
  }
  const chunkSize = chooseChunkSize(size, requested, limits);
  const totalChunks = chunkCount(size, chunkSize);
  if (totalChunks > limits.maxChunks) {
    throw new FerryError(
      'file-too-large',
      `${size} bytes needs ${totalChunks} chunks of at most ${limits.maxChunkSize} bytes; the server allows ${limits.maxChunks}.`,
    );
  }
  return { size, chunkSize, totalChunks };
}

/** Chunks a file should have at least on a long link, where the ramp and the tail go per chunk. */
const longLinkChunks = 64;

/**
 * The chunk size for a file on a long link: smaller than the server's default when that leaves the
 * file fewer than 64 chunks, so the concurrency ramp is over in the first few chunks and the last
 * round of chunks is short (a 256 MiB file: 4 MiB chunks, not 32 of 8 MiB); a power of two, at least
 * 1 MiB and the server's minimum. Undefined: the server's default.
 */
export function longLinkChunkSize(size: number, limits: ChunkLimits): number | undefined {
  const wanted = Math.max(1024 * 1024, limits.minChunkSize, 2 ** Math.floor(Math.log2(Math.max(1, size / longLinkChunks))));
  return wanted < limits.defaultChunkSize ? wanted : undefined;
}

/** Byte range [start, end) of chunk `index`. */
export function chunkRange(plan: ChunkPlan, index: number): { start: number; end: number } {
  if (!Number.isInteger(index) || index < 0 || index >= plan.totalChunks) {
    throw new RangeError(`chunk ${index} outside 0..${plan.totalChunks - 1}`);
  }
  const start = index * plan.chunkSize;
  return { start, end: start + chunkLength(plan.size, plan.chunkSize, index) };
}

/** The indexes a status's `missing` ranges name, checked against the upload's chunk count. */
export function missingChunks(missing: string, totalChunks: number): number[] {
  // Bound every number before expanding, so a bad range cannot make a huge array.
  for (const n of missing.match(/\d+/g) ?? []) {
    if (Number(n) >= totalChunks) throw new RangeError(`missing chunk ${n} outside 0..${totalChunks - 1}`);
  }
  return [...new Set(parseIndexRanges(missing))].sort((a, b) => a - b);
}
