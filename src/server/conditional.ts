// RFC 9110 conditional requests for immutable files: If-None-Match and If-Range.
import type { IncomingMessage } from 'node:http';

export interface Validators {
  /** Strong, quoted entity tag. */
  etag: string;
  /** Epoch ms. */
  lastModified: number;
}

/** True when If-None-Match names the current representation (so a GET/HEAD answers 304). */
export function notModified(req: IncomingMessage, v: Validators): boolean {
  const header = req.headers['if-none-match'];
  if (!header) return false;
  if (header.trim() === '*') return true;
  // Weak comparison: W/"x" matches "x".
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === v.etag);
}

/** True when a Range header may be honoured: no If-Range, or If-Range still names this representation. */
export function ifRangeHolds(req: IncomingMessage, v: Validators): boolean {
  const header = req.headers['if-range'] as string | undefined;
  if (header === undefined) return true;
  const value = header.trim();
  if (value.startsWith('"')) return value === v.etag; // strong comparison only
  if (value.startsWith('W/')) return false;
  const date = Date.parse(value);
  return Number.isFinite(date) && date === Math.floor(v.lastModified / 1000) * 1000;
}
