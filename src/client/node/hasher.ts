// Hashing with node:crypto (also incremental, for whole-file digests).
import { createHash } from 'node:crypto';
import { formatDigest, type DigestAlgorithm } from '../../protocol/index.js';
import type { Hasher } from '../engine/io.js';

const nodeNames: Record<DigestAlgorithm, string> = { 'sha-256': 'sha256' };

export function createHasher(): Hasher {
  return {
    async digest(bytes, algorithm) {
      const base64 = createHash(nodeNames[algorithm]).update(bytes).digest('base64');
      return formatDigest({ algorithm, base64 });
    },
    createHash(algorithm) {
      const hash = createHash(nodeNames[algorithm]);
      return {
        update: (bytes, hashed) => {
          hash.update(bytes);
          hashed?.(bytes);
        },
        digest: async () => formatDigest({ algorithm, base64: hash.digest('base64') }),
      };
    },
  };
}
