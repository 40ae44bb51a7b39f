// Fetches the pieces not yet done, in parallel under the shared adaptive concurrency controller and
// retry policy: each one a single Range with If-Range, checked (digest, Content-Range, ETag), written
// at its offset (piece.ts), and only then counted and handed to the journal. The ranges go through
// the platform's RangeTransport when there is one; its parts are lent and given back once written.
// A range cut by the network is continued from its first missing byte, not fetched again whole.
// The last pieces of a slow transfer go in parts, several at once (tail.ts).
import { withRetry } from '../engine/retry-loop.js';
import { runPipeline } from '../engine/scheduler.js';
import { emitProgress } from '../engine/transfer.js';
import type { DownloadContext } from './context.js';
import { PieceAttempt, rangeRetryHooks, type Carried } from './piece.js';
import type { Piece } from './plan.js';
import type { Session } from './session.js';
import { fetchPart, pieceJobs, type PieceJob } from './tail.js';

export async function fetchPieces(ctx: DownloadContext, s: Session): Promise<void> {
  const pending = s.plan.pieces.filter((p) => !s.journal.has(p.index));
  ctx.progress.setPhase(ctx.gate.paused ? 'paused' : 'transferring');
  // Same ceiling as uploads: a piece in flight may hold up to its size in buffers on a slow disk.
  ctx.controller.capInFlight(s.plan.chunkSize);
  ctx.controller.begin(ctx.o.io.clock.now());
  await runPipeline<PieceJob, PieceJob>({
    // The last pieces may go in parts (tail.ts), decided as each is taken.
    items: pieceJobs(ctx, pending),
    // Nothing to prepare ahead: a piece's bytes are read from the network, not from a source.
    prepare: async (job) => job,
    execute: async (job, signal) => {
      if (!job.part) return fetchPiece(ctx, s, job.piece, signal);
      const whole = await fetchPart(ctx, s, job, signal, () => fetchPiece(ctx, s, job.piece, signal));
      if (whole) countDone(ctx, s, job.piece, null);
    },
    limit: () => ctx.controller.limit,
    readAhead: 0,
    gate: ctx.gate,
    signal: ctx.signal,
    onActive: (executing) => {
      ctx.progress.setConcurrency(ctx.controller.limit, executing);
      emitProgress(ctx);
    },
  });
}

/** Attempts a piece until it is on disk and checked, then counts it. */
async function fetchPiece(ctx: DownloadContext, s: Session, piece: Piece, signal: AbortSignal): Promise<void> {
  const { clock } = ctx.o.io;
  // Under the chaos suite's cuts, fetching a cut piece again whole re-fetched 2/3 of the file.
  let carried: Carried | null = null;
  await withRetry(
    async () => {
      const attempt = new PieceAttempt(ctx, s, piece, carried);
      // What this attempt fetches (a continued piece only its rest), and from when: its rate.
      const fetching = piece.end - piece.start - (carried?.received ?? 0);
      const startedAt = clock.now();
      try {
        await attempt.run(signal);
      } finally {
        carried = attempt.leftover;
      }
      countDone(ctx, s, piece, { bytes: fetching, durationMs: clock.now() - startedAt });
    },
    ctx.retry,
    rangeRetryHooks(ctx, piece, piece.start, piece.end),
    signal,
  );
}

/** The piece is written and checked: it goes to the journal, the controller and the progress. */
function countDone(ctx: DownloadContext, s: Session, piece: Piece, request: { bytes: number; durationMs: number } | null): void {
  s.journal.markDone(piece.index);
  const now = ctx.o.io.clock.now();
  const length = piece.end - piece.start;
  // A piece fetched in parts told the controller of each part as it came (request null).
  if (request) ctx.controller.onSuccess(length, now, request.bytes === length ? request.durationMs : undefined);
  ctx.progress.chunkDone(piece.index, length, now, true);
  emitProgress(ctx);
}
