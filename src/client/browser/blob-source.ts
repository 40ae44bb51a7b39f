// A ByteSource over a Blob or File: slices read on demand, never the whole file in memory.
import type { ByteSource } from '../upload/io.js';

/** Files resume by [name, size, lastModified]; a plain Blob has no identity and does not resume. */
export function createSource(blob: Blob, name?: string): ByteSource {
  const file = isFile(blob) ? blob : null;
  return {
    size: blob.size,
    name: name ?? file?.name ?? 'blob',
    fingerprint: file ? [file.name, file.size, file.lastModified] : null,
    async read(start, end) {
      if (start < 0 || end > blob.size || start > end) throw new RangeError(`read(${start}, ${end}) outside 0..${blob.size}`);
      return new Uint8Array(await blob.slice(start, end).arrayBuffer());
    },
  };
}

function isFile(blob: Blob): blob is File {
  return typeof (blob as File).name === 'string' && typeof (blob as File).lastModified === 'number';
}
