// Numbers for people: sizes, speeds, durations, dates. Pure, so they are unit-tested in Node.

const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;

/**
 * 1536 → "1.5 KiB"; binary units, because file sizes on disk are shown that way too. Whole bytes stay
 * exact ("1023 B"); a fraction (a speed: 5 bytes in 0.97 s) gets the same 3 figures as larger units.
 */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '–';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0 && Number.isInteger(value)) return `${value} B`;
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}

export function formatRate(bytesPerSecond: number | null): string {
  return bytesPerSecond === null || !Number.isFinite(bytesPerSecond) ? '–' : `${formatBytes(bytesPerSecond)}/s`;
}

/** 75 → "1 min 15 s"; null (unknown) → "–". */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return '–';
  const s = Math.ceil(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 === 0 ? `${m} min` : `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  return m % 60 === 0 ? `${h} h` : `${h} h ${m % 60} min`;
}

/** Whole percent, rounded down so 100 % means done, never "almost". */
export function percentOf(done: number, total: number): number {
  if (total <= 0) return done >= total ? 100 : 0;
  return Math.min(100, Math.floor((done / total) * 100));
}

/** A date in the reader's locale, e.g. "25 Nov 2026, 15:10". */
export function formatDate(iso: string | number, locale?: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '–';
  return date.toLocaleString(locale, { dateStyle: 'medium', timeStyle: 'short' });
}
