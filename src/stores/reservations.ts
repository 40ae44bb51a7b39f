// The reservation rule every metadata store applies at create, and the server's early check with it.
import type { ReservationLimit, ReservationLimits, Reservations } from './types.js';

/** The first limit an upload of `size` bytes would pass, given what is reserved before it; null if none. */
export function passedLimit(r: Reservations, size: number, l: ReservationLimits): ReservationLimit | null {
  if (l.maxUploads !== null && r.uploads + 1 > l.maxUploads) return 'uploads';
  if (l.maxBytes !== null && r.bytes + size > l.maxBytes) return 'bytes';
  if (l.maxTotalBytes !== null && r.totalBytes + size > l.maxTotalBytes) return 'total-bytes';
  if (l.maxPendingBytes !== null && r.pendingBytes + size > l.maxPendingBytes) return 'pending-bytes';
  return null;
}
