// Sizes, rates and durations for terminal output: the shared formatting (src/client/format.ts, which
// the web page uses too) with the terminal's placeholders, and clock-style times that keep a live
// line's width steady.
import { formatClock, formatRate as rate } from '../client/format.js';

export { formatBytes, formatElapsed, sentence } from '../client/format.js';

/** "21.3 MiB/s"; unknown: "-- MiB/s". */
export function formatRate(bytesPerSecond: number | null): string {
  return rate(bytesPerSecond, '-- MiB/s');
}

/** "01:15", "1:02:05"; unknown: "--:--". */
export function formatDuration(seconds: number | null): string {
  return formatClock(seconds);
}
