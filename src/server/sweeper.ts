// Periodic housekeeping: expire idle uploads (freeing their bytes), finish completions and clean-ups
// a crash interrupted, purge old tombstones and spent grant budgets, and delete finished files past
// their retention (--file-ttl). One node at a time does it, under the 'sweep' lease in the metadata store.
import { recoverCompletions, recoverFailedCompletions } from './completion.js';
import type { ServerContext } from './context.js';
import { removeFile } from './routes/file-admin.js';
import { awaitsCompletion, expireUpload, recoverStorage } from './upload-lifecycle.js';

const batch = 500;

export interface SweepResult {
  /** False when another node holds the sweep lease (this one did nothing). */
  swept: boolean;
  expired: number;
  purged: number;
  /** Files deleted for being older than the retention. */
  retired: number;
}

/** The named lease one node holds while it sweeps: long enough to outlast a sweep, renewed by the next. */
export const sweepLease = 'sweep';

export async function sweep(ctx: ServerContext): Promise<SweepResult> {
  // Held only while a sweep runs (renewed as it goes, given up at its end): a node killed mid-sweep
  // blocks the others for one lease at most, and no node has to be "the sweeper".
  const leaseMs = Math.min(30_000, Math.max(3 * ctx.config.sweepIntervalSeconds * 1000, 1_000));
  if (!(await ctx.meta.claimLease(sweepLease, ctx.nodeId, ctx.now() + leaseMs))) return { swept: false, expired: 0, purged: 0, retired: 0 };
  const renew = setInterval(() => {
    ctx.meta.claimLease(sweepLease, ctx.nodeId, ctx.now() + leaseMs).catch((err: unknown) => ctx.log.warn({ err }, 'could not renew the sweep lease'));
  }, leaseMs / 3);
  renew.unref();
  try {
    return await sweepAsHolder(ctx);
  } finally {
    clearInterval(renew);
    await ctx.meta.releaseLease(sweepLease, ctx.nodeId).catch(() => undefined);
  }
}

async function sweepAsHolder(ctx: ServerContext): Promise<SweepResult> {
  const now = ctx.now();
  let expired = 0;
  for (const upload of await ctx.meta.listDue('uploading', now, batch)) {
    // An upload with every chunk in is due for completion, not expiry (recoverCompletions below).
    if (awaitsCompletion(upload)) continue;
    // The state change is conditional: whatever else expires it at the same moment, it ends once.
    if (await expireUpload(ctx, upload)) expired++;
  }
  await recoverCompletions(ctx);
  await recoverFailedCompletions(ctx);
  await recoverStorage(ctx);
  let purged = 0;
  const horizon = now - ctx.config.tombstoneSeconds * 1000;
  for (const state of ['expired', 'aborted', 'failed'] as const) {
    for (const upload of await ctx.meta.listDue(state, horizon, batch)) {
      // A tus partial upload may have been assembled to be read (a concatenation): a crash between its
      // end and freeing that copy left it, and no other sweep names it.
      if (upload.role === 'part' && upload.fileId) await ctx.blobs.deleteFile(ctx.blobs.fileRefOf(upload.blobHandle, upload.fileId));
      await ctx.meta.forgetChunks(upload.id);
      await ctx.meta.deleteUpload(upload.id);
      purged++;
    }
  }
  await ctx.meta.purgeGrants(now);
  let retired = 0;
  const ttl = ctx.config.fileTtlSeconds;
  if (ttl !== undefined) {
    for (const file of await ctx.meta.listFiles({ limit: batch, createdBefore: now - ttl * 1000 })) {
      if (await removeFile(ctx, file, 'retention')) retired++;
    }
  }
  if (expired || purged || retired) ctx.log.info({ event: 'sweep', expired, purged, retired }, 'sweep');
  return { swept: true, expired, purged, retired };
}

/** Runs sweep() every `intervalMs` until the returned stop function is called. */
export function startSweeper(ctx: ServerContext, intervalMs: number): () => Promise<void> {
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = sweep(ctx).catch((err) => ctx.log.error({ err }, 'sweep failed'));
  }, intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
