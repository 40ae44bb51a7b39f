// A server without ranges: one GET of the whole file, written in order (and hashed on the way when
// the server offers a digest). Every retry starts again from byte 0: nothing else is possible.
import { MiB } from '../../protocol/index.js';
import { NetworkError } from '../engine/errors.js';
import { problemFrom } from '../engine/http-problem.js';
import { withRetry } from '../engine/retry-loop.js';
import { emitProgress } from '../engine/transfer.js';
import { resetProgress, type DownloadContext } from './context.js';
import { DownloadError } from './errors.js';
import { Exchange } from './http.js';
import { checkPinned } from './pinned.js';
import type { Session } from './session.js';
import { wholeFileHash } from './verify.js';

/** Writes are batched to this size: one system call per network read would be ~16 per MiB. */
const writeBatch = 1 * MiB;

/** Streams the file into the `.part`; resolves with the number of bytes written. */
export async function streamWhole(ctx: DownloadContext, s: Session): Promise<number> {
  const { remote } = s;
  return withRetry(
    async () => {
      resetProgress(ctx, remote.size ?? 0, s.plan.pieces.length);
      ctx.progress.setPhase(ctx.gate.paused ? 'paused' : 'transferring');
      s.wholeHash = wholeFileHash(ctx, remote);
      const ex = await Exchange.open(ctx.http, 'GET', remote.url, {}, ctx.signal);
      try {
        const res = ex.response;
        if (!res.ok) throw problemFrom(res, await ex.text());
        checkPinned(ex, remote);
        ctx.progress.setConcurrency(1, 1);
        const written = await copyBody(ctx, s, ex);
        if (remote.size !== null && written !== remote.size) {
          throw new NetworkError(`${ex.what}: the body ended after ${written} of ${remote.size} bytes.`);
        }
        return written;
      } finally {
        ex.close();
      }
    },
    ctx.retry,
    { what: `GET ${remote.url}`, onFailure: () => emitProgress(ctx) },
    ctx.signal,
  );
}

async function copyBody(ctx: DownloadContext, s: Session, ex: Exchange): Promise<number> {
  const { plan, remote } = s;
  let offset = 0;
  let nextPiece = 0;
  let batch: Uint8Array[] = [];
  let batched = 0;
  const flush = async () => {
    await s.part.write(offset, batch);
    s.wholeHash?.offer(offset, batch);
    offset += batched;
    batch = [];
    batched = 0;
    // Count the chunks the written prefix now covers, for the same progress as the other modes.
    const now = ctx.o.io.clock.now();
    for (let p = plan.pieces[nextPiece]; p && p.end <= offset; p = plan.pieces[++nextPiece]) {
      ctx.progress.chunkDone(p.index, p.end - p.start, now, true);
    }
    emitProgress(ctx);
  };
  for await (const part of ex.chunks()) {
    if (remote.size !== null && offset + batched + part.byteLength > remote.size) {
      throw new DownloadError('protocol', `${ex.what}: the body is longer than the ${remote.size} bytes announced.`);
    }
    ctx.stats.bytesFetched += part.byteLength;
    batch.push(part);
    batched += part.byteLength;
    if (batched >= writeBatch) await flush();
    if (ctx.gate.paused) {
      // Pausing a single stream stops reading it; TCP then holds the server back.
      ex.holdWatch(true);
      await ctx.gate.wait(ctx.signal);
      ex.holdWatch(false);
    }
  }
  if (batched > 0) await flush();
  return offset;
}
