// One chunk: read and hash it, send it with retries, and never send what the server already has.
import { FerryError, type ChunkAck, type UploadStatus } from '../../protocol/index.js';
import { withRetry } from '../engine/retry-loop.js';
import { classifyError } from '../engine/retry.js';
import { watchForStall } from '../engine/stall-watch.js';
import { emitProgress } from '../engine/transfer.js';
import type { ChunkBody } from './api.js';
import { type UploadContext, type UploadRef } from './context.js';
import { chunkRange, type ChunkPlan } from './plan.js';

export interface PreparedChunk extends ChunkBody {
  index: number;
}

/** Reads chunk `index` from the source and hashes it. */
export async function readChunk(ctx: UploadContext, plan: ChunkPlan, index: number, signal: AbortSignal): Promise<PreparedChunk> {
  const { start, end } = chunkRange(plan, index);
  const bytes = await ctx.source.read(start, end, signal);
  if (bytes.byteLength !== end - start) {
    throw new RangeError(`read ${bytes.byteLength} bytes of chunk ${index}, expected ${end - start} (did the file shrink?)`);
  }
  const digest = await ctx.o.io.hasher.digest(bytes, ctx.o.checksum);
  return { index, bytes, digest };
}

/** What a chunk sender needs besides the context: the upload and a shared status check. */
export interface ChunkSession {
  ref: UploadRef;
  /**
   * GET status (coalesced across chunks), marking stored chunks done; see send.ts. With `after` (a
   * statusMark() taken when a request failed), only a status asked after that mark will do: one
   * already on its way may have been answered before the server kept that request's bytes.
   */
  refreshStatus(signal: AbortSignal, after?: number): Promise<UploadStatus>;
  /** Marks now for refreshStatus(…, after). */
  statusMark(): number;
  /** Called with every acknowledgement. */
  onAck(ack: ChunkAck): void;
  /** Bytes the server keeps of chunks part-way in (cut requests), by index, as the last status said. */
  staged: Map<number, number>;
}

/** Skips chunks already done or an upload already finished; otherwise reads it. */
export async function prepareChunk(ctx: UploadContext, s: ChunkSession, index: number, signal: AbortSignal): Promise<PreparedChunk | null> {
  if (s.ref.finished || ctx.progress.isDone(index)) return null;
  return readChunk(ctx, s.ref.plan, index, signal);
}

/** Where to continue a chunk the server keeps `kept` bytes of: 0 (the whole chunk) unless inside it. */
function continueAt(kept: number | undefined, length: number): number {
  return kept !== undefined && Number.isSafeInteger(kept) && kept > 0 && kept < length ? kept : 0;
}

/** Sends a prepared chunk until acknowledged (or found on the server); gives up per the retry policy. */
export async function sendChunk(ctx: UploadContext, s: ChunkSession, chunk: PreparedChunk, signal: AbortSignal): Promise<void> {
  const { clock } = ctx.o.io;
  const { index } = chunk;
  const length = chunk.bytes.byteLength;
  let body: ChunkBody = chunk;
  let acknowledged = false;
  // The status was asked after the last attempt's connection broke (and said nothing new).
  let asked = false;
  // statusMark() when the last attempt failed.
  let failedAt = 0;
  await withRetry(
    async (previous) => {
      if (previous?.kind === 'unreachable' && !asked) {
        // The last attempt may have been stored before the connection broke: ask before resending.
        await s.refreshStatus(signal, failedAt);
      }
      asked = false;
      if (s.ref.finished || ctx.progress.isDone(index)) return;
      if (previous?.kind === 'corrupt') {
        // Damaged bytes may be among those kept: send the whole chunk again.
        s.staged.delete(index);
        body = await readChunk(ctx, s.ref.plan, index, signal);
      }
      let ack: ChunkAck | null = null;
      let from = 0;
      let startedAt = 0;
      // An offset the server disputes is corrected once, then the whole chunk goes. A connection that
      // broke after the server kept more of the chunk is not a failure: the chunk goes on at once from
      // there (on a lossy link a chunk may need several connections; backing off between them stalls it).
      for (let mismatches = 0; ack === null; ) {
        from = continueAt(s.staged.get(index), length);
        ctx.progress.sending(length - from);
        emitProgress(ctx);
        startedAt = clock.now();
        const watch = watchForStall(ctx.controller.requestRate, length - from, clock, signal, `PUT chunk ${index}`);
        try {
          ack = await ctx.api.putChunk(s.ref.uploadUrl, s.ref.uploadId, index, body, watch.signal, from);
        } catch (e) {
          failedAt = s.statusMark();
          if (e instanceof FerryError && e.code === 'upload-completed') {
            await s.refreshStatus(signal);
            return;
          }
          if (e instanceof FerryError && e.code === 'chunk-offset-mismatch' && mismatches++ < 2) {
            // From where the server says it is; should that move again, the whole chunk.
            const kept = e.extensions.staged;
            if (typeof kept === 'number' && mismatches === 1) s.staged.set(index, kept);
            else s.staged.delete(index);
            continue;
          }
          if (classifyError(e, signal).broken && !signal.aborted) {
            await s.refreshStatus(signal, failedAt);
            if (s.ref.finished || ctx.progress.isDone(index)) return;
            if (continueAt(s.staged.get(index), length) > from) continue;
            asked = true;
          }
          throw e;
        } finally {
          watch.stop();
          ctx.progress.sent(length - from);
        }
      }
      acknowledged = true;
      s.staged.delete(index);
      const now = clock.now();
      if (!ack.duplicate) ctx.controller.onSuccess(length - from, now, now - startedAt);
      ctx.progress.chunkDone(index, length, now, true);
      s.onAck(ack);
      emitProgress(ctx);
    },
    ctx.retry,
    {
      what: `chunk ${index}`,
      index,
      onFailure: (f) => {
        ctx.controller.onFailure(clock.now(), f);
        emitProgress(ctx);
      },
    },
    signal,
  );
  // The server read the whole body before acknowledging it, so nothing still reads these bytes.
  if (acknowledged) ctx.source.release?.(body.bytes);
}
