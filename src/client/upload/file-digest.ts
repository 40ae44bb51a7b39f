// The whole file's digest, computed in one ordered pass over the source (for fileDigest: 'compute').
import type { DigestAlgorithm } from '../../protocol/index.js';
import type { Hasher } from '../engine/io.js';
import { UploadError } from './errors.js';
import type { ByteSource } from './io.js';

export async function computeFileDigest(
  source: ByteSource,
  hasher: Hasher,
  algorithm: DigestAlgorithm,
  blockSize: number,
  signal: AbortSignal,
): Promise<string> {
  if (!hasher.createHash) {
    throw new UploadError('invalid', "This hasher cannot hash a stream; pass fileDigest itself instead of 'compute'.");
  }
  const hash = hasher.createHash(algorithm);
  for (let start = 0; start < source.size; start += blockSize) {
    if (signal.aborted) throw signal.reason;
    hash.update(await source.read(start, Math.min(start + blockSize, source.size), signal));
  }
  return hash.digest();
}
