// Periodic housekeeping: expire idle uploads (freeing their bytes), purge old tombstones and spent
// grant budgets, and delete finished files past their retention (--file-ttl).
import type { ServerContext } from './context.js';
import { removeFile } from './routes/file-admin.js';
import { expireUpload } from './upload-lifecycle.js';

const batch = 500;

export interface SweepResult {
  expired: number;
  purged: number;
  /** Files deleted for being older than the retention. */
  retired: number;
}

export async function sweep(ctx: ServerContext): Promise<SweepResult> {
  const now = ctx.now();
  let expired = 0;
  for (const upload of await ctx.meta.listDue('uploading', now, batch)) {
    // An upload with every chunk in is completing, not idle.
    if (upload.chunksReceived === upload.totalChunks || ctx.completions.has(upload.id)) continue;
    if (await expireUpload(ctx, upload)) expired++;
  }
  let purged = 0;
  const horizon = now - ctx.config.tombstoneSeconds * 1000;
  for (const state of ['expired', 'aborted', 'failed'] as const) {
    for (const upload of await ctx.meta.listDue(state, horizon, batch)) {
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
  return { expired, purged, retired };
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
