// Numbers for people on the page: the shared formatting (src/client/format.ts, which the CLI uses
// too), plus dates in the reader's locale, which only the page shows.
export { describeTransfer, formatBytes, formatDuration, formatRate, percentOf } from '../client/format.js';

/** A date in the reader's locale, e.g. "25 Nov 2026, 15:10". */
export function formatDate(iso: string | number, locale?: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '–';
  return date.toLocaleString(locale, { dateStyle: 'medium', timeStyle: 'short' });
}
