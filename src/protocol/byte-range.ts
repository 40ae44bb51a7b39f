// RFC 9110 byte ranges: parsing a Range header against a size, and formatting Content-Range.

export type RangeRequest =
  /** No Range header, or one to ignore (malformed, another unit): send the whole representation. */
  | { kind: 'none' }
  /** Bytes [start, end) (end exclusive). */
  | { kind: 'single'; start: number; end: number }
  /** Several ranges: Ferry answers with the whole representation (documented). */
  | { kind: 'multiple' }
  /** No range overlaps the representation: 416. */
  | { kind: 'unsatisfiable' };

const spec = /^\s*(?:(\d+)-(\d*)|-(\d+))\s*$/;

export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (header === undefined) return { kind: 'none' };
  const m = /^\s*bytes\s*=(.*)$/i.exec(header);
  if (!m) return { kind: 'none' };
  const parts = m[1]!.split(',').filter((p) => p.trim() !== '');
  if (parts.length === 0) return { kind: 'none' };
  const satisfiable: Array<{ start: number; end: number }> = [];
  for (const part of parts) {
    const s = spec.exec(part);
    if (!s) return { kind: 'none' };
    if (s[3] !== undefined) {
      const n = Number(s[3]);
      if (n > 0 && size > 0) satisfiable.push({ start: Math.max(0, size - n), end: size });
      continue;
    }
    const first = Number(s[1]);
    const last = s[2] === '' ? Infinity : Number(s[2]);
    if (last < first) return { kind: 'none' };
    if (first < size) satisfiable.push({ start: first, end: Math.min(last + 1, size) });
  }
  if (satisfiable.length === 0) return { kind: 'unsatisfiable' };
  if (parts.length > 1) return { kind: 'multiple' };
  return { kind: 'single', ...satisfiable[0]! };
}

/** "bytes 0-99/1000" for [start, end). */
export function formatContentRange(start: number, end: number, size: number): string {
  return `bytes ${start}-${end - 1}/${size}`;
}

// Parses "bytes 0-99/1000" or the unsatisfied form "bytes */1000"; undefined when malformed.
export function parseContentRange(value: string | null | undefined): { start: number; end: number; size: number | undefined } | { unsatisfied: true; size: number } | undefined {
  if (!value) return undefined;
  const full = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(value);
  if (full) {
    return { start: Number(full[1]), end: Number(full[2]) + 1, size: full[3] === '*' ? undefined : Number(full[3]) };
  }
  const star = /^\s*bytes\s+\*\/(\d+)\s*$/i.exec(value);
  return star ? { unsatisfied: true, size: Number(star[1]) } : undefined;
}
