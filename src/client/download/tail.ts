// The tail of a download. Once fewer pieces are left to start than requests may be in flight, a piece
// that would take long over one connection is fetched as a few sub-ranges at once: the last seconds
// then keep every connection busy instead of waiting on a few whole pieces, one connection each (on
// a long link a connection moves a fraction of what the link can). The sub-ranges land in the
// `.part` at their offsets; the piece is then read back and checked against its digest as a whole
// (a mismatch fetches it again whole, as any corrupt piece is), and only then counts.
import { emitProgress } from '../engine/transfer.js';
import { withRetry } from '../engine/retry-loop.js';
import type { DownloadContext } from './context.js';
import { PieceAttempt, rangeRetryHooks } from './piece.js';
import { sameDigest, type Piece } from './plan.js';
import type { Session } from './session.js';

/** A piece fetched whole, or one sub-range of a piece fetched in parts. */
export type PieceJob = { piece: Piece; part?: undefined } | { piece: Piece; part: PartOf };

export interface PartOf {
  /** Bytes [start, end) of the file, inside the piece. */
  start: number;
  end: number;
  /** Shared by the piece's parts: how many are still to come. */
  group: { left: number };
}

/** A sub-range should take at least this long over one connection (shorter ones add requests for nothing)... */
const partMs = 100;
/** ...and be at least this large; a piece is cut in at most `maxParts`. */
const minPartBytes = 512 * 1024;
const maxParts = 4;

/**
 * The jobs for `pending`, decided as the scheduler takes them (so from the limit and rate of that
 * moment): whole pieces, then the last ones in parts.
 */
export function* pieceJobs(ctx: DownloadContext, pending: readonly Piece[]): Generator<PieceJob> {
  for (let i = 0; i < pending.length; i++) {
    const piece = pending[i]!;
    // This piece and those after it all start in the last round of requests.
    const count = pending.length - i <= ctx.controller.limit ? partsFor(piece, ctx.controller.requestRate) : 1;
    if (count <= 1) {
      yield { piece };
      continue;
    }
    const group = { left: count };
    const size = piece.end - piece.start;
    for (let k = 0; k < count; k++) {
      const start = piece.start + Math.floor((size * k) / count);
      const end = piece.start + Math.floor((size * (k + 1)) / count);
      yield { piece, part: { start, end, group } };
    }
  }
}

/** How many parts a piece is fetched in, at `rate` bytes/ms per request (null: not known yet). */
export function partsFor(piece: Piece, rate: number | null): number {
  const size = piece.end - piece.start;
  if (rate === null || !(rate > 0)) return 1;
  const byTime = Math.floor(size / rate / partMs);
  const bySize = Math.floor(size / minPartBytes);
  return Math.max(1, Math.min(maxParts, byTime, bySize));
}

/**
 * Fetches one part (retried as a piece is); the piece's last part to arrive checks the piece. Returns
 * whether the piece is now checked and written (false: other parts still to come).
 * `refetch` fetches the piece again whole after its parts did not check out.
 */
export async function fetchPart(
  ctx: DownloadContext,
  s: Session,
  job: { piece: Piece; part: PartOf },
  signal: AbortSignal,
  refetch: () => Promise<void>,
): Promise<boolean> {
  const { piece, part } = job;
  const { clock } = ctx.o.io;
  // A part is a range with nothing of its own to check: its bytes are checked with the whole piece.
  const range: Piece = { index: piece.index, start: part.start, end: part.end, digest: null };
  await withRetry(
    async () => {
      const startedAt = clock.now();
      await new PieceAttempt(ctx, s, range, null, false).run(signal);
      const now = clock.now();
      ctx.controller.onSuccess(part.end - part.start, now, now - startedAt);
    },
    ctx.retry,
    rangeRetryHooks(ctx, piece, part.start, part.end),
    signal,
  );
  if (--part.group.left > 0) return false;
  // Every part is written (each attempt awaits its writes): read the piece back and check it whole.
  if (piece.digest !== null) {
    const bytes = await s.part.read(piece.start, piece.end);
    const actual = await ctx.o.io.hasher.digest(bytes, 'sha-256');
    if (!sameDigest(actual, piece.digest)) {
      ctx.events.emit('warning', { message: `chunk ${piece.index} fetched in parts arrived as ${actual}, not ${piece.digest}; fetching it again whole` });
      await refetch();
      return false;
    }
    s.wholeHash?.offer(piece.start, [bytes]);
  }
  return true;
}
