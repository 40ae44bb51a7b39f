// A ByteSource over bytes already in memory; works on every platform.
import type { ByteSource } from './io.js';

export interface BytesSourceOptions {
  name?: string;
  /** Pass one (e.g. a content hash) to make this source resumable; none means never resume. */
  fingerprint?: readonly (string | number)[] | null;
}

export function bytesSource(bytes: Uint8Array, options: BytesSourceOptions = {}): ByteSource {
  return {
    size: bytes.byteLength,
    name: options.name ?? 'bytes',
    fingerprint: options.fingerprint ?? null,
    async read(start, end) {
      if (start < 0 || end > bytes.byteLength || start > end) {
        throw new RangeError(`read(${start}, ${end}) outside 0..${bytes.byteLength}`);
      }
      return bytes.subarray(start, end);
    },
  };
}
