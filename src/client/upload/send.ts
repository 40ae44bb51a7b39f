// Sends the chunks still missing, in parallel under the concurrency controller, then makes sure
// the server completed the upload (polling status when no acknowledgement said so).
import { FerryError, type ChunkAck, type UploadStatus } from '../../protocol/index.js';
import { withRetry } from '../engine/retry-loop.js';
import { backoffDelay } from '../engine/retry.js';
import { runPipeline } from '../engine/scheduler.js';
import { emitProgress } from '../engine/transfer.js';
import { prepareChunk, sendChunk, type ChunkSession } from './chunk-sender.js';
import { type Finished, type UploadContext, type UploadRef } from './context.js';
import { UploadError } from './errors.js';
import { chunkRange, missingChunks } from './plan.js';

export async function sendMissing(ctx: UploadContext, ref: UploadRef, pending: number[]): Promise<Finished> {
  const { clock, random } = ctx.o.io;
  const staged = new Map<number, number>();
  const status = coalesce((signal) => fetchStatus(ctx, ref, signal, staged));
  const session: ChunkSession = {
    ref,
    refreshStatus: status.get,
    statusMark: status.mark,
    onAck: (ack) => onAck(ref, ack),
    staged,
  };
  // Each request in flight holds a chunk's buffer: the limit stays within the memory budget.
  ctx.controller.capInFlight(ref.plan.chunkSize);
  let waitingSince: number | null = null;
  for (let round = 1; ; round++) {
    if (pending.length > 0) {
      waitingSince = null;
      ctx.progress.setPhase(ctx.gate.paused ? 'paused' : 'transferring');
      ctx.controller.begin(clock.now());
      await runPipeline({
        items: pending,
        prepare: (index, signal) => prepareChunk(ctx, session, index, signal),
        execute: (chunk, signal) => sendChunk(ctx, session, chunk, signal),
        limit: () => ctx.controller.limit,
        readAhead: ctx.o.readAhead,
        gate: ctx.gate,
        signal: ctx.signal,
        onActive: (executing) => {
          ctx.progress.setConcurrency(ctx.controller.limit, executing);
          emitProgress(ctx);
        },
      });
    }
    if (ref.finished) return ref.finished;
    ctx.progress.setPhase('completing');
    emitProgress(ctx);
    // No acknowledgement said "complete": a concurrent request finished it, or the server is still
    // assembling; or chunks were lost. Status tells which.
    const status = await withRetry(() => session.refreshStatus(ctx.signal, session.statusMark()), ctx.retry, { what: 'GET upload status' }, ctx.signal);
    if (ref.finished) return ref.finished;
    pending = missingChunks(status.missing, ref.plan.totalChunks);
    const lost = pending.filter((i) => ctx.progress.isDone(i));
    if (lost.length > 0) {
      throw new UploadError('protocol', `The server lost acknowledged chunks ${lost.slice(0, 10).join(', ')}.`, {
        uploadId: ref.uploadId,
      });
    }
    if (pending.length === 0) {
      waitingSince ??= clock.now();
      if (clock.now() - waitingSince > ctx.o.retry.outageMs) {
        throw new UploadError('retries-exhausted', 'The server has every chunk but did not complete the upload.', {
          uploadId: ref.uploadId,
        });
      }
      await clock.sleep(Math.max(ctx.o.retry.baseDelayMs / 2, backoffDelay(round, ctx.o.retry, random)), ctx.signal);
    }
  }
}

function onAck(ref: UploadRef, ack: ChunkAck): void {
  if (ack.complete && ack.fileId !== null && ack.fileUrl !== null) {
    ref.finished ??= { fileId: ack.fileId, fileUrl: ack.fileUrl };
  }
}

const endedStates = {
  aborted: 'upload-aborted',
  expired: 'upload-expired',
  failed: 'upload-failed',
} as const;

/**
 * GET status and take it in: chunks stored count as done, a complete upload is finished, and `staged`
 * becomes what the server keeps of chunks part-way in.
 */
async function fetchStatus(ctx: UploadContext, ref: UploadRef, signal: AbortSignal, staged: Map<number, number>): Promise<UploadStatus> {
  const status = await ctx.api.status(ref.uploadUrl, signal);
  if (status.state === 'complete') {
    if (status.fileId === null || status.fileUrl === null) {
      throw new UploadError('protocol', 'The server reports a complete upload without a file.', { uploadId: ref.uploadId });
    }
    ref.finished ??= { fileId: status.fileId, fileUrl: status.fileUrl };
  } else if (status.state !== 'uploading' && status.state !== 'completing') {
    throw new FerryError(endedStates[status.state], `The upload is ${status.state}.`);
  }
  staged.clear();
  for (const part of status.staged ?? []) staged.set(part.index, part.bytes);
  // 'completing': every chunk is in and a server is assembling the file; nothing is missing.
  const missing = new Set(status.state === 'uploading' ? missingChunks(status.missing, ref.plan.totalChunks) : []);
  const now = ctx.o.io.clock.now();
  for (let i = 0; i < ref.plan.totalChunks; i++) {
    if (missing.has(i) || ctx.progress.isDone(i)) continue;
    const { start, end } = chunkRange(ref.plan, i);
    ctx.progress.chunkDone(i, end - start, now, false);
  }
  emitProgress(ctx);
  return status;
}

/**
 * Concurrent callers share one call in flight (many chunks failing at once ask status once). A caller
 * with `after` (a mark() it took) joins only a call made after that mark, else makes a new one.
 */
function coalesce<T>(fn: (signal: AbortSignal) => Promise<T>): { get(signal: AbortSignal, after?: number): Promise<T>; mark(): number } {
  let calls = 0;
  let inFlight: { n: number; result: Promise<T> } | null = null;
  return {
    mark: () => calls,
    get(signal, after = -1) {
      if (inFlight !== null && inFlight.n > after) return inFlight.result;
      const call = { n: ++calls, result: fn(signal) };
      inFlight = call;
      void call.result.then(
        () => inFlight === call && (inFlight = null),
        () => inFlight === call && (inFlight = null),
      );
      return call.result;
    },
  };
}
