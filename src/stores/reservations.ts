// The reservation rule every metadata store applies at create, and the server's early check with it.
import type { ReservationLimit, ReservationLimits, Reservations, UploadRecord } from './types.js';

/**
 * What an upload in progress reserves: its size; for a deferred length (not known yet) what it has
 * received and the chunk it is filling, never more than the most it may become. Limits are checked when
 * uploads are created, so a deferred one is admitted for its first chunk and counted as it grows.
 */
export function reservedBytes(u: Pick<UploadRecord, 'size' | 'lengthDeferred' | 'bytesReceived' | 'chunkSize'>): number {
  return u.lengthDeferred ? Math.min(u.size, u.bytesReceived + u.chunkSize) : u.size;
}

/** The first limit an upload of `size` bytes would pass, given what is reserved before it; null if none. */
export function passedLimit(r: Reservations, size: number, l: ReservationLimits): ReservationLimit | null {
  if (l.maxUploads !== null && r.uploads + 1 > l.maxUploads) return 'uploads';
  if (l.maxBytes !== null && r.bytes + size > l.maxBytes) return 'bytes';
  if (l.maxTotalBytes !== null && r.totalBytes + size > l.maxTotalBytes) return 'total-bytes';
  if (l.maxPendingBytes !== null && r.pendingBytes + size > l.maxPendingBytes) return 'pending-bytes';
  return null;
}
