// Loading an upload (with lazy expiry) and the state changes that free storage: abort and expire.
import { FerryError } from '../protocol/index.js';
import type { UploadRecord } from '../stores/types.js';
import { requireUpload } from './auth/policy.js';
import type { Principal } from './auth/principal.js';
import type { ServerContext } from './context.js';
import { announceEvent, uploadEvent } from './events.js';

/**
 * The upload, or upload-not-found (also when `who` may not see it). An 'uploading' upload past its
 * expiry is expired on the spot.
 */
export async function loadUpload(ctx: ServerContext, uploadId: string, who: Principal): Promise<UploadRecord> {
  const upload = await ctx.meta.getUpload(uploadId);
  if (!upload) throw new FerryError('upload-not-found', `No upload ${uploadId}.`);
  requireUpload(who, upload);
  // One with every chunk in is due for completion, not expiry (a crash stopped it before 'completing').
  if (upload.state === 'uploading' && upload.expiresAt <= ctx.now() && !awaitsCompletion(upload)) {
    if (await expireUpload(ctx, upload)) return { ...upload, state: 'expired' };
    // A chunk (on this node or another) slid its expiry meanwhile, or something else ended it: as it is now.
    return loadUpload(ctx, uploadId, who);
  }
  return upload;
}

/**
 * Moves an upload out of 'uploading' into `to` and frees its chunk rows, then its bytes: the bytes go
 * last, so a crash part-way always leaves them for recoverStorage() to find and finish the job.
 */
async function closeUpload(ctx: ServerContext, upload: UploadRecord, to: 'aborted' | 'expired'): Promise<boolean> {
  const ended = uploadEvent(ctx, to === 'aborted' ? 'upload.aborted' : 'upload.expired', upload);
  // Expiry only while still due (the condition is checked in the store, not on this snapshot): a
  // chunk recorded meanwhile on any node slides the expiry and keeps the upload alive.
  const patch = to === 'expired' ? { dueBy: ctx.now() } : {};
  if (!(await ctx.meta.transition(upload.id, ['uploading'], to, patch, ended?.deliveries ?? []))) return false;
  await ctx.meta.forgetChunks(upload.id);
  await ctx.blobs.abort(upload.blobHandle);
  // A tus partial upload may have been assembled (to be read by a concatenation that did not finish).
  if (upload.role === 'part' && upload.fileId) await ctx.blobs.deleteFile(ctx.blobs.fileRefOf(upload.blobHandle, upload.fileId));
  // A grant's budget counts what is uploading or became a file: what ended here is given back.
  if (upload.grantId) await ctx.meta.releaseGrant(upload.grantId, upload.size);
  ctx.metrics.inc(to === 'aborted' ? 'ferry_uploads_aborted_total' : 'ferry_uploads_expired_total');
  ctx.log.info({ uploadId: upload.id, event: `upload-${to}`, chunksReceived: upload.chunksReceived }, `upload ${to}`);
  await announceEvent(ctx, ended);
  return true;
}

/**
 * Every chunk is in and nothing but its completion is left: not a tus partial upload (it completes only
 * within a concatenation) nor one whose length is still to be said.
 */
export function awaitsCompletion(upload: UploadRecord): boolean {
  return upload.state === 'uploading' && upload.role === 'file' && !upload.lengthDeferred && upload.chunksReceived === upload.totalChunks;
}

export const abortUpload = (ctx: ServerContext, upload: UploadRecord) => closeUpload(ctx, upload, 'aborted');
export const expireUpload = (ctx: ServerContext, upload: UploadRecord) => closeUpload(ctx, upload, 'expired');

/** The problem for writing to an upload in a state that no longer takes chunks. */
export function closedUploadProblem(upload: Pick<UploadRecord, 'id' | 'state'>): FerryError {
  switch (upload.state) {
    case 'complete':
      return new FerryError('upload-completed', `Upload ${upload.id} is already complete.`);
    case 'completing':
      return new FerryError('upload-completed', `Upload ${upload.id} has every chunk and its file is being assembled.`);
    case 'aborted':
      return new FerryError('upload-aborted', `Upload ${upload.id} was aborted.`);
    case 'expired':
      return new FerryError('upload-expired', `Upload ${upload.id} expired; start a new upload.`);
    case 'failed':
    case 'uploading':
      return new FerryError('upload-failed', `Upload ${upload.id} failed verification and was discarded.`);
  }
}

/**
 * Frees what a crash left behind: the storage of uploads that are no longer uploading (a crash between
 * their end and their clean-up), with their chunk rows, and storage no upload row names (a crash while
 * one was created). The latter only once older than `orphanGraceSeconds`: on several nodes, another
 * node may be between beginning an upload's storage and writing its row. Never assembles anything.
 */
export async function recoverStorage(ctx: ServerContext): Promise<number> {
  let freed = 0;
  const bornBefore = ctx.now() - ctx.config.orphanGraceSeconds * 1000;
  for (const { uploadId, handle, startedAt } of await ctx.blobs.listIncomplete()) {
    try {
      const upload = await ctx.meta.getUpload(uploadId);
      if (upload && (upload.state === 'uploading' || upload.state === 'completing') && upload.blobHandle === handle) continue;
      if (!upload && startedAt > bornBefore) continue;
      // A complete upload keeps its chunk rows: they are its file's manifest.
      if (upload && upload.state !== 'complete') await ctx.meta.forgetChunks(upload.id);
      await ctx.blobs.abort(handle);
      ctx.log.warn({ uploadId, event: 'storage-recovered', state: upload?.state ?? null }, 'freed storage left by an interrupted upload');
      freed++;
    } catch (error) {
      // One that cannot be freed now (the store refuses) must not stop the rest: the next sweep tries again.
      ctx.log.error({ uploadId, err: error }, 'storage recovery failed');
    }
  }
  return freed;
}
