// Numbers for people, shared by the CLI and the web page so both say sizes, speeds and times alike.
// Pure and platform-neutral (no Node, no DOM); each side picks its placeholders and layout.

const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;

/**
 * 1536 → "1.5 KiB"; binary units, as file sizes on disk are shown. Whole bytes stay exact ("1023 B");
 * a fraction (a speed: 5 bytes in 0.97 s) gets the same 3 figures as larger units. Not a size: "–".
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

/** 2097152 → "2.0 MiB/s"; unknown (null, not finite) → `unknown`. */
export function formatRate(bytesPerSecond: number | null, unknown = '–'): string {
  return bytesPerSecond === null || !Number.isFinite(bytesPerSecond) || bytesPerSecond < 0 ? unknown : `${formatBytes(bytesPerSecond)}/s`;
}

/** A time left or taken, in words: 75 → "1 min 15 s" (rounded up: "1 s" left, never "0 s"); unknown → `unknown`. */
export function formatDuration(seconds: number | null, unknown = '–'): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return unknown;
  const s = Math.ceil(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 === 0 ? `${m} min` : `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  return m % 60 === 0 ? `${h} h` : `${h} h ${m % 60} min`;
}

/** A time as a clock, for a terminal line that should not change width: 75 → "01:15", 3725 → "1:02:05". */
export function formatClock(seconds: number | null, unknown = '--:--'): string {
  if (seconds === null || !Number.isFinite(seconds)) return unknown;
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const two = (x: number) => String(x).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(s % 60)}` : `${two(m)}:${two(s % 60)}`;
}

/** A whole run's length for a summary: "0.4 s", "14 s", "3 min 5 s", "1 h 2 min". */
export function formatElapsed(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '-- s';
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** Below this a transfer counts as instant: its average speed is mostly latency, not worth saying. */
export const instantMs = 1000;

/**
 * The average speed of a finished transfer, or null when it means nothing: no bytes, or over in
 * less than a second (a 5-byte file "at 238 B/s" only measures the round trip).
 */
export function averageRate(bytes: number, durationMs: number): number | null {
  if (!(bytes > 0) || !(durationMs >= instantMs)) return null;
  return (bytes / durationMs) * 1000;
}

/**
 * How a finished transfer went, for a summary line: "3 s, 21.3 MiB/s"; nothing ("") for an empty or
 * instant one, whose time and speed would only measure the round trip.
 */
export function describeTransfer(bytes: number, durationMs: number): string {
  const rate = averageRate(bytes, durationMs);
  return rate === null ? '' : `${formatDuration(durationMs / 1000)}, ${formatRate(rate)}`;
}

/** Whole percent, rounded down so 100 % means done, never "almost". */
export function percentOf(done: number, total: number): number {
  if (total <= 0) return done >= total ? 100 : 0;
  return Math.min(100, Math.floor((done / total) * 100));
}

/** `text` ending as a sentence: a period added unless it already ends in . ? or ! */
export function sentence(text: string): string {
  const t = text.trim();
  return /[.?!]$/.test(t) ? t : `${t}.`;
}
