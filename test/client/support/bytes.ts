// Comparing file contents in tests. Not expect(a).toEqual(b): vitest's deep equality walks a typed
// array element by element and then builds Object.entries() of both (a [key, value] pair and a key
// string per byte). 4 MiB took 20 s and 1.6 GB; 16 MiB ran the worker out of heap.

/** Where `actual` first differs from `expected`, in a few words; null when they are the same bytes. */
export function byteDifference(actual: Uint8Array, expected: Uint8Array): string | null {
  const a = Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength);
  const b = Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength);
  if (a.equals(b)) return null;
  const shorter = Math.min(a.length, b.length);
  let at = 0;
  while (at < shorter && a[at] === b[at]) at++;
  return `${a.length} bytes, expected ${b.length}; first difference at byte ${at}`;
}
