// A chunk writer's lease in the metadata store: taken before its first byte, renewed while bytes flow,
// required to record the chunk. Every node sees it, so one writer per chunk holds across the cluster.
import { randomUUID } from 'node:crypto';
import { FerryError } from '../protocol/index.js';
import type { ServerContext } from './context.js';

export interface ChunkLease {
  /** Names the writer (its node and request) in the store's claim row. */
  readonly token: string;
  /**
   * Passes `body` through, renewing the lease before handing on a piece whenever a third of it has
   * gone by. A writer whose lease was taken over (it stalled longer than the lease) stops before
   * writing another byte: the piece that would follow is never handed on.
   */
  guard(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array>;
  /** Gives the lease up (idempotent), so a retry need not wait for it to expire. */
  release(): Promise<void>;
}

/** How long a writer may go without a byte before another may take its chunk over. */
export function chunkLeaseMs(ctx: ServerContext): number {
  // A lease shorter than a few event-loop stalls would be lost by healthy writers.
  return Math.max(200, ctx.config.chunkTakeoverSeconds * 1000);
}

/** Takes the lease on chunk `index` of `uploadId`, or undefined while another writer holds it. */
export async function takeChunkLease(ctx: ServerContext, uploadId: string, index: number): Promise<ChunkLease | undefined> {
  const leaseMs = chunkLeaseMs(ctx);
  const token = `${ctx.nodeId}/${randomUUID()}`;
  if (!(await ctx.meta.claimChunk(uploadId, index, token, ctx.now() + leaseMs))) return undefined;
  ctx.chunkWrites.started();
  let renewedAt = ctx.now();
  let released = false;
  return {
    token,
    async *guard(body) {
      for await (const piece of body) {
        if (ctx.now() - renewedAt > leaseMs / 3) {
          const now = ctx.now();
          if (!(await ctx.meta.renewChunk(uploadId, index, token, now + leaseMs))) {
            throw new FerryError('chunk-in-progress', `Chunk ${index} was taken over by another request while this one stalled.`, { retryAfter: 1 });
          }
          renewedAt = now;
        }
        yield piece;
      }
    },
    async release() {
      if (released) return;
      released = true;
      ctx.chunkWrites.ended();
      // Not fatal (a full disk can refuse even this): a lease not given up lapses by itself.
      await ctx.meta.releaseChunk(uploadId, index, token).catch((err: unknown) => {
        ctx.log.warn({ uploadId, index, err }, 'could not give up a chunk lease; it will lapse');
      });
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
