// The pieces a download fetches: a Ferry file's chunks (each with its digest, from the manifest) or
// fixed-size ranges of a plain HTTP file. Also checks that a manifest is whole and names its ETag.
import { chunkCount, chunkLength, fileEtag, fileEtagInput, parseDigest, type FileManifest } from '../../protocol/index.js';
import type { Hasher } from '../engine/io.js';
import { DownloadError } from './errors.js';

export interface Piece {
  index: number;
  /** Bytes [start, end) of the file. */
  start: number;
  end: number;
  /** "sha-256=:B64:" from the manifest; null for plain HTTP (nothing to check a range against). */
  digest: string | null;
}

export interface PiecePlan {
  size: number;
  chunkSize: number;
  pieces: Piece[];
}

/** Fixed-size ranges; a 0-byte file is one empty piece (as in the protocol), fetched by nobody. */
export function planBySize(size: number, chunkSize: number): PiecePlan {
  if (!(Number.isSafeInteger(chunkSize) && chunkSize > 0)) throw new RangeError(`invalid chunk size ${chunkSize}`);
  const pieces: Piece[] = [];
  for (let i = 0; i < chunkCount(size, chunkSize); i++) {
    const start = i * chunkSize;
    pieces.push({ index: i, start, end: start + chunkLength(size, chunkSize, i), digest: null });
  }
  return { size, chunkSize, pieces };
}

/** The manifest's chunks, after checking they tile the file exactly as the protocol says. */
export function planFromManifest(m: FileManifest): PiecePlan {
  const bad = (why: string) => new DownloadError('protocol', `The manifest of ${m.fileUrl} is inconsistent: ${why}.`);
  const expected = planBySize(m.size, m.chunkSize);
  if (m.totalChunks !== expected.pieces.length || m.chunks.length !== expected.pieces.length) {
    throw bad(`${m.chunks.length} chunks listed, ${m.totalChunks} declared, ${expected.pieces.length} expected`);
  }
  const pieces = expected.pieces.map((p, i) => {
    const c = m.chunks[i]!;
    if (c.index !== i || c.offset !== p.start || c.size !== p.end - p.start) throw bad(`chunk ${i} is not at ${p.start}+${p.end - p.start}`);
    try {
      parseDigest(c.digest, 'sha-256');
    } catch {
      throw bad(`chunk ${i} has an unusable digest`);
    }
    return { ...p, digest: c.digest };
  });
  return { size: m.size, chunkSize: m.chunkSize, pieces };
}

/** The ETag a Ferry server derives for these chunk digests (protocol/etag.ts), hashed with `hasher`. */
export async function etagOfChunks(digests: string[], hasher: Hasher): Promise<string> {
  const text = await hasher.digest(fileEtagInput(digests), 'sha-256');
  return fileEtag(parseDigest(text, 'sha-256').base64);
}

/** Throws 'verification' unless the manifest's chunk digests derive its ETag. */
export async function checkManifestEtag(m: FileManifest, hasher: Hasher): Promise<void> {
  const derived = await etagOfChunks(m.chunks.map((c) => c.digest), hasher);
  if (derived !== m.etag) {
    throw new DownloadError('verification', `The manifest's chunk digests hash to ${derived}, not to the file's ETag ${m.etag}.`);
  }
}

/** Same digest, compared by value ("sha-256=:B64:" texts may differ only in spelling). */
export function sameDigest(a: string, b: string): boolean {
  try {
    return parseDigest(a, 'sha-256').base64 === parseDigest(b, 'sha-256').base64;
  } catch {
    return false;
  }
}
