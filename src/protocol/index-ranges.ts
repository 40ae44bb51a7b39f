// Compact text form of sets of chunk indexes: "0-3,7,9-12" (inclusive ranges, ascending).

/** Formats ascending, de-duplicated indexes as ranges. */
export function formatIndexRanges(indexes: Iterable<number>): string {
  const parts: string[] = [];
  let start = -1;
  let prev = -1;
  for (const i of indexes) {
    if (start === -1) {
      start = prev = i;
    } else if (i === prev + 1) {
      prev = i;
    } else {
      parts.push(start === prev ? `${start}` : `${start}-${prev}`);
      start = prev = i;
    }
  }
  if (start !== -1) parts.push(start === prev ? `${start}` : `${start}-${prev}`);
  return parts.join(',');
}

/** Formats ascending, disjoint inclusive ranges ({first, last}) the same way. */
export function formatRangeList(ranges: Iterable<{ first: number; last: number }>): string {
  const parts: string[] = [];
  for (const r of ranges) parts.push(r.first === r.last ? `${r.first}` : `${r.first}-${r.last}`);
  return parts.join(',');
}

/** The indexes in [0, total) that are not in `present` (ascending). */
export function* missingIndexes(total: number, present: Iterable<number>): Generator<number> {
  const sorted = [...present].sort((a, b) => a - b);
  let next = 0;
  for (const p of sorted) {
    for (; next < p && next < total; next++) yield next;
    if (p >= next) next = p + 1;
  }
  for (; next < total; next++) yield next;
}

/** Parses "0-3,7" into [0,1,2,3,7]; throws on malformed input. */
export function parseIndexRanges(text: string): number[] {
  const out: number[] = [];
  if (text.trim() === '') return out;
  for (const part of text.split(',')) {
    const m = /^\s*(\d+)(?:-(\d+))?\s*$/.exec(part);
    if (!m) throw new Error(`malformed index range: ${part}`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new Error(`malformed index range: ${part}`);
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
}
