// Lifetimes and durations as people write them ("15m", "7d"): one grammar for grants, links and options.

const spanUnits: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** "90", "1.5h", "15m", "7d", "2w" (any case) or a number of seconds -> seconds (fractions kept). */
export function parseSpan(span: number | string): number {
  const seconds = typeof span === 'number' ? span : spanOf(span);
  if (!(seconds > 0) || !Number.isFinite(seconds)) throw new RangeError(`"${span}" is not a lifetime (examples: 900, 15m, 2h, 7d).`);
  return seconds;
}

function spanOf(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$/i.exec(text);
  return m ? Number(m[1]) * spanUnits[(m[2] || 's').toLowerCase()]! : NaN;
}
