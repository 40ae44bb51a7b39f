// Aligned columns for listings (ls, status, keys): a header, then one row a line.
import { displayWidth } from './output-width.js';

/** Rows of cells -> lines; `right`: column indexes aligned right (sizes). The last column is not padded. */
export function formatTable(rows: string[][], right: ReadonlySet<number> = new Set()): string {
  // Padded by terminal columns, not UTF-16 units: a CJK name or an emoji takes two columns.
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => displayWidth(r[i] ?? ''))));
  const pad = (cell: string, i: number) => ' '.repeat(Math.max(0, widths[i]! - displayWidth(cell)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 && !right.has(i) ? cell : right.has(i) ? pad(cell, i) + cell : cell + pad(cell, i)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** A name from a server or a file system, safe to print: control characters (a newline, an escape) become "?". */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

/** An ISO time to the second, as the listings show it: 2026-04-30T10:12:33Z. */
export function isoSeconds(time: string | number): string {
  const date = new Date(time);
  return Number.isNaN(date.getTime()) ? String(time) : date.toISOString().slice(0, 19) + 'Z';
}
