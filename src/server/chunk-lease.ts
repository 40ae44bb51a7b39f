// A chunk writer's lease in the metadata store: taken before its first byte, renewed while bytes flow,
// required to record the chunk. Every node sees it, so one writer per chunk holds across the cluster.
import { randomUUID } from 'node:crypto';
import { FerryError } from '../protocol/index.js';
import { HeldClaim } from '../stores/held-claim.js';
import type { ServerContext } from './context.js';

export interface ChunkLease {
  /** Names the writer (its node and request) in the store's claim row. */
  readonly token: string;
  /**
   * Passes `body` through, keeping the lease while bytes arrive. A writer whose lease was taken
   * over (its body stalled longer than the lease, or its process hung) stops before handing on
   * another piece.
   */
  guard(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array>;
  /**
   * Renews the lease now: false when it was taken over (or cannot be renewed), so a writer whose body
   * failed changes no storage another writer may own by now.
   */
  confirm(): Promise<boolean>;
  /**
   * Passes `body` through to a blob store's stageChunk; should the body fail after the lease was taken
   * over (it stalled, then broke), `signal` aborts, so the store writes none of what it still holds
   * over what the successor wrote and recorded since.
   */
  fence(body: AsyncIterable<Uint8Array>): { body: AsyncIterable<Uint8Array>; signal: AbortSignal };
  /** Gives the lease up (idempotent), so a retry need not wait for it to expire. */
  release(): Promise<void>;
}

/** How long a writer may go without a byte before another may take its chunk over. */
export function chunkLeaseMs(ctx: ServerContext): number {
  // A lease shorter than a few event-loop stalls would be lost by healthy writers.
  return Math.max(200, ctx.config.chunkTakeoverSeconds * 1000);
}

/**
 * Takes the lease on chunk `index` of `uploadId`, or undefined while another writer holds it.
 *
 * A timer renews it every third of its length while the writer is working: while its body's bytes
 * keep arriving or the store is busy with them, and once the body has ended (the store is flushing
 * it, or waiting for S3 to take the part). So a live writer is never taken over however slow its storage, and only a body that
 * stalls (or a node that dies or hangs) lets the lease lapse. A writer that finds its lease older
 * than a third of its length (its renewals could not run) renews before handing on another piece.
 */
export async function takeChunkLease(ctx: ServerContext, uploadId: string, index: number): Promise<ChunkLease | undefined> {
  const leaseMs = chunkLeaseMs(ctx);
  let lastByteAt = ctx.now();
  let bodyEnded = false;
  let waitingForBody = false;
  const claim = await HeldClaim.take(ctx.meta, uploadId, index, {
    token: `${ctx.nodeId}/${randomUUID()}`,
    leaseMs,
    now: ctx.now,
    // Working: the store has our pieces (it has not asked for the next), or bytes arrive, or the
    // body is in and being made durable. A stalled body lets the lease lapse for a retry to take over.
    working: () => bodyEnded || !waitingForBody || ctx.now() - lastByteAt < leaseMs,
    onError: (err) => ctx.log.warn({ uploadId, index, err }, 'could not renew or give up a chunk lease'),
  });
  if (!claim) return undefined;
  ctx.chunkWrites.started();
  let released = false;
  const takenOver = () => new FerryError('chunk-in-progress', `Chunk ${index} was taken over by another request while this one stalled.`, { retryAfter: 1 });
  const confirm = async () => !claim.lost && (await claim.renew().catch(() => false));
  return {
    token: claim.token,
    async *guard(body) {
      const pieces = body[Symbol.asyncIterator]();
      try {
        for (;;) {
          waitingForBody = true;
          const next = await pieces.next();
          waitingForBody = false;
          lastByteAt = ctx.now();
          if (next.done) break;
          if (claim.lost || (lastByteAt - claim.renewedAt > leaseMs / 3 && !(await claim.renew()))) throw takenOver();
          yield next.value;
        }
      } finally {
        waitingForBody = false;
        await pieces.return?.();
      }
      bodyEnded = true;
    },
    confirm,
    fence(body) {
      const fence = new AbortController();
      async function* fenced(): AsyncGenerator<Uint8Array> {
        try {
          yield* body;
        } catch (error) {
          if (!(await confirm())) fence.abort(error);
          throw error;
        }
      }
      return { body: fenced(), signal: fence.signal };
    },
    async release() {
      if (released) return;
      released = true;
      ctx.chunkWrites.ended();
      await claim.release();
    },
  };
}

/** Chunk writes in progress on this node: observability only (a gauge and tests), never coordination. */
export class ChunkWrites {
  size = 0;
  /** The most at once since start: how many chunks this node wrote concurrently. */
  peak = 0;

  started(): void {
    this.size++;
    this.peak = Math.max(this.peak, this.size);
  }

  ended(): void {
    this.size--;
  }
}
