// One download from start to finish: probe, open (resume or start over), fetch, verify, commit.
// When the remote changes underneath, the `.part` is thrown away and everything starts again.
import { emitProgress } from '../engine/transfer.js';
import { type DownloadContext, type DownloadResult } from './context.js';
import { toDownloadError } from './errors.js';
import { fetchPieces } from './pieces.js';
import { probeRemote } from './probe.js';
import { openSession, type Session } from './session.js';
import { streamWhole } from './stream.js';
import { verifyWhole } from './verify.js';

export async function runDownload(ctx: DownloadContext): Promise<DownloadResult> {
  const { clock } = ctx.o.io;
  const startedAt = clock.now();
  for (let restarts = 0; ; restarts++) {
    const probing = clock.now();
    const remote = await probeRemote(ctx, ctx.o.url);
    // A connection and at least two requests (HEAD, manifest): three round trips or more.
    ctx.controller.firstRequests(clock.now() - probing, 3);
    const s = await openSession(ctx, remote);
    try {
      let size = s.plan.size;
      if (remote.mode === 'stream') size = await streamWhole(ctx, s);
      else await fetchPieces(ctx, s);
      return await finish(ctx, s, size, startedAt, restarts);
    } catch (e) {
      const error = toDownloadError(e);
      const changed = error.reason === 'remote-changed';
      if (changed || error.reason === 'verification') {
        // These bytes cannot be continued: a partial file of another version, or a file known bad.
        await closeSession(s, false);
        await ctx.target.discard();
        if (changed && restarts < ctx.o.maxRestarts && !ctx.signal.aborted) {
          ctx.events.emit('restart', { reason: 'remote-changed', message: 'remote changed, starting over' });
          continue;
        }
      } else {
        // Anything else (abort included) leaves the `.part` and an up-to-date sidecar to resume from.
        await closeSession(s, true);
      }
      throw ctx.signal.aborted ? ctx.signal.reason : error;
    }
  }
}

async function finish(ctx: DownloadContext, s: Session, size: number, startedAt: number, restarts: number): Promise<DownloadResult> {
  const { clock } = ctx.o.io;
  ctx.progress.setPhase('completing');
  emitProgress(ctx);
  // Record everything first: a crash during a long whole-file check keeps all the chunks.
  await s.journal.flush();
  const verified = await verifyWhole(ctx, {
    remote: s.remote,
    plan: s.plan,
    part: s.part,
    size,
    isDone: (i) => s.journal.has(i),
    wholeHash: s.wholeHash,
  });
  await s.journal.stop();
  await s.part.sync();
  await s.part.close();
  await ctx.target.commit();
  ctx.progress.setPhase('done');
  emitProgress(ctx);
  const durationMs = clock.now() - startedAt;
  const bytesFetched = ctx.stats.bytesFetched;
  return {
    url: s.remote.url,
    path: ctx.target.path,
    size,
    etag: s.remote.etag,
    digest: verified === 'none' ? null : s.remote.reprDigest,
    verified,
    resumed: s.resumed,
    restarts,
    bytesFetched,
    durationMs,
    rate: durationMs > 0 ? (bytesFetched * 1000) / durationMs : 0,
  };
}

/** Closes the `.part`; `keep`: flush the sidecar first (best effort: the one on disk is consistent anyway). */
async function closeSession(s: Session, keep: boolean): Promise<void> {
  if (keep) await s.journal.close().catch(() => {});
  else await s.journal.stop();
  await s.part.close().catch(() => {});
}
