// Hashing with WebCrypto (crypto.subtle): one-shot only, so fileDigest: 'compute' is unavailable here.
import { bytesToBase64, formatDigest, type DigestAlgorithm } from '../../protocol/index.js';
import type { Hasher } from '../engine/io.js';

const subtleNames: Record<DigestAlgorithm, string> = { 'sha-256': 'SHA-256' };

export function createHasher(subtle: SubtleCrypto = globalThis.crypto.subtle): Hasher {
  return {
    async digest(bytes, algorithm) {
      // A view over an ArrayBuffer in practice (Blob slices, user arrays).
      const raw = await subtle.digest(subtleNames[algorithm], bytes as Uint8Array<ArrayBuffer>);
      return formatDigest({ algorithm, base64: bytesToBase64(new Uint8Array(raw)) });
    },
  };
}
