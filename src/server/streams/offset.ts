// Where a stream upload (tus / IETF) stands: the bytes it has kept, counted from its first.
import type { UploadRecord } from '../../stores/types.js';

/** Bytes durably kept: every recorded chunk (they arrive in order) plus those staged for the next. */
export function streamOffset(u: Pick<UploadRecord, 'state' | 'size' | 'chunksReceived' | 'chunkSize' | 'stagedBytes' | 'totalChunks'>): number {
  if (u.state === 'complete' || u.state === 'completing') return u.size;
  return Math.min(u.size, u.chunksReceived * u.chunkSize + u.stagedBytes);
}
