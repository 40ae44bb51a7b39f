// Opens one attempt at a download: decides between continuing the `.part` the sidecar describes and
// starting over, opens the `.part`, writes the sidecar before any byte is fetched, counts what is done.
import { emitProgress } from '../engine/transfer.js';
import { resetProgress, type DownloadContext } from './context.js';
import type { PartFile } from './io.js';
import { Journal } from './journal.js';
import { checkManifestEtag, planBySize, planFromManifest, type PiecePlan } from './plan.js';
import { rangeValidator, type RemoteInfo } from './probe.js';
import { doneChunks, initialState, parseState, resumeRefusal, type DownloadState } from './state.js';
import { wholeFileHash, type OrderedHash } from './verify.js';

export interface Session {
  remote: RemoteInfo;
  plan: PiecePlan;
  part: PartFile;
  journal: Journal;
  /** The If-Range value sent with every range (strong ETag, else Last-Modified), or null. */
  validator: string | null;
  /** Some chunks were taken over from an earlier run. */
  resumed: boolean;
  wholeHash: OrderedHash | null;
}

export async function openSession(ctx: DownloadContext, remote: RemoteInfo): Promise<Session> {
  const { target } = ctx;
  const { clock } = ctx.o.io;
  if (remote.manifest) await checkManifestEtag(remote.manifest, ctx.o.io.hasher);
  const kept = ctx.o.resume ? await continuable(ctx, remote) : null;
  const plan = kept?.plan ?? planFor(remote, ctx.o.chunkSize);
  let part = kept?.part ?? null;
  if (!part) {
    await target.discard();
    part = (await target.openPart(remote.size, 'fresh'))!;
  }
  const reuse = kept?.done ?? [];
  const journal = new Journal({ target, part, clock, intervalMs: ctx.o.stateIntervalMs }, initialState(remote, plan.chunkSize), reuse);
  try {
    // The sidecar exists before the first byte is fetched, so a `.part` never lies around unexplained.
    await journal.flush();
  } catch (e) {
    await part.close().catch(() => {});
    throw e;
  }

  resetProgress(ctx, plan.size, plan.pieces.length);
  const now = clock.now();
  for (const i of reuse) {
    const p = plan.pieces[i]!;
    ctx.progress.chunkDone(i, p.end - p.start, now, false);
  }
  ctx.events.emit('started', {
    url: remote.url,
    path: target.path,
    mode: remote.mode,
    size: remote.size,
    etag: remote.etag,
    chunkSize: plan.chunkSize,
    totalChunks: plan.pieces.length,
    chunksDone: reuse.length,
    resumed: reuse.length > 0,
  });
  emitProgress(ctx);
  return { remote, plan, part, journal, validator: rangeValidator(remote), resumed: reuse.length > 0, wholeHash: wholeFileHash(ctx, remote) };
}

function planFor(remote: RemoteInfo, chunkSize: number): PiecePlan {
  if (remote.manifest) return planFromManifest(remote.manifest);
  return planBySize(remote.size ?? 0, chunkSize);
}

/** The `.part` and its done chunks when the sidecar says they belong to this remote; else null, said why. */
async function continuable(ctx: DownloadContext, remote: RemoteInfo): Promise<{ plan: PiecePlan; part: PartFile; done: number[] } | null> {
  const text = await ctx.target.readState();
  if (text === null) return null;
  const restart = (reason: 'remote-changed' | 'cannot-resume', message: string) => {
    ctx.events.emit('restart', { reason, message });
    return null;
  };
  const state: DownloadState | null = parseState(text);
  if (!state) return restart('cannot-resume', 'the sidecar is unreadable; starting over');
  const refusal = resumeRefusal(state, remote);
  if (refusal) return restart(refusal.kind, refusal.message);
  // A plain server's ranges keep the chunk size they were recorded with, so indexes mean the same.
  const plan = planFor(remote, state.chunkSize);
  if (plan.chunkSize !== state.chunkSize) return restart('cannot-resume', 'the chunk size changed; starting over');
  const done = doneChunks(state, plan.pieces.length);
  if (!done) return restart('cannot-resume', 'the sidecar does not fit the file; starting over');
  const part = await ctx.target.openPart(remote.size, 'resume');
  if (!part) return restart('cannot-resume', 'the partial file is missing or has the wrong size; starting over');
  return { plan, part, done };
}
