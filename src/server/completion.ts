// Assembling an upload into a file once its last chunk is recorded: exactly once, crash-safe.
import { createHash } from 'node:crypto';
import { bytesToBase64, FerryError, formatDigest, readMetadata } from '../protocol/index.js';
import type { ChunkRecord, FileRecord, UploadRecord } from '../stores/types.js';
import type { ServerContext } from './context.js';
import { announceEvent, eventData, prepareEvent } from './events.js';
import { storedManifest } from './manifest.js';

/**
 * Completes `upload` (every chunk must be recorded). Concurrent callers in this process share one
 * run; a run interrupted by a crash is simply run again (each step is idempotent).
 */
export function completeUpload(ctx: ServerContext, upload: UploadRecord): Promise<FileRecord> {
  let running = ctx.completions.get(upload.id);
  if (!running) {
    running = runCompletion(ctx, upload).finally(() => ctx.completions.delete(upload.id));
    ctx.completions.set(upload.id, running);
  }
  return running;
}

async function runCompletion(ctx: ServerContext, upload: UploadRecord): Promise<FileRecord> {
  const started = ctx.now();
  const fileId = upload.fileId;
  if (!fileId) throw new FerryError('internal-error', `Upload ${upload.id} has no file id.`);
  const chunks = await allChunks(ctx, upload.id);
  if (chunks.length !== upload.totalChunks) {
    throw new FerryError('internal-error', `Upload ${upload.id} has ${chunks.length} of ${upload.totalChunks} chunks.`);
  }
  const blobRef = await ctx.blobs.complete(upload.blobHandle, fileId, chunks.map((c) => c.receipt));

  if (upload.fileDigest) {
    // Reading the file back costs one sequential pass; only uploads that declare a digest pay it.
    const actual = await digestOf(ctx, blobRef, upload.size);
    if (actual !== upload.fileDigest) {
      // The state first: a crash after it leaves chunk rows behind, which recoverFailedCompletions
      // takes as the sign that the file still has to be deleted.
      const failed = prepareEvent(ctx, 'upload.failed', eventData(ctx, upload, null));
      const failedHere = await ctx.meta.transition(upload.id, ['uploading'], 'failed', {}, failed.deliveries);
      await ctx.blobs.deleteFile(blobRef);
      await ctx.meta.forgetChunks(upload.id);
      if (failedHere && upload.grantId) await ctx.meta.releaseGrant(upload.grantId, upload.size);
      ctx.log.warn({ uploadId: upload.id, event: 'upload-failed', expected: upload.fileDigest, actual }, 'file digest mismatch');
      if (failedHere) await announceEvent(ctx, failed);
      throw new FerryError('file-digest-mismatch', `The assembled file's digest is ${actual}, not the declared ${upload.fileDigest}.`, {
        expected: upload.fileDigest,
        actual,
      });
    }
  }

  let file = await ctx.meta.getFile(fileId);
  if (!file) {
    const record: FileRecord = {
      id: fileId,
      uploadId: upload.id,
      name: upload.name,
      size: upload.size,
      chunkSize: upload.chunkSize,
      totalChunks: upload.totalChunks,
      algorithm: upload.algorithm,
      fileDigest: upload.fileDigest,
      etag: etagOf(chunks.map((c) => c.digest)),
      metadata: readMetadata(upload.metadata), // an upload from before metadata was limited may hold any JSON
      blobRef,
      createdAt: ctx.now(),
      owner: upload.owner,
    };
    await ctx.meta.createFile(record);
    file = record;
  }
  // Serialised once, here, so manifest requests serve stored bytes instead of listing every chunk.
  // Not fatal: a manifest missing for any reason is built at its first request.
  await storedManifest(ctx, file, chunks).catch((error: unknown) => {
    ctx.log.warn({ uploadId: upload.id, fileId, err: error }, 'could not store the manifest; it will be built when first asked for');
  });
  // Only the run that moves the upload to complete reports it (a crash-recovery rerun may find it done).
  const completed = prepareEvent(ctx, 'upload.completed', eventData(ctx, upload, file));
  const completedHere = await ctx.meta.transition(upload.id, ['uploading'], 'complete', { fileId }, completed.deliveries);
  if (!completedHere) return file;
  ctx.metrics.inc('ferry_uploads_completed_total');
  ctx.log.info(
    { uploadId: upload.id, fileId, event: 'upload-complete', bytes: upload.size, durationMs: ctx.now() - started },
    'upload complete',
  );
  await announceEvent(ctx, completed);
  return file;
}

/** Every chunk row of an upload, read a page at a time so a 10,000-chunk upload is not one long read. */
async function allChunks(ctx: ServerContext, uploadId: string): Promise<ChunkRecord[]> {
  const pageSize = 1000;
  const chunks: ChunkRecord[] = [];
  for (;;) {
    const page = await ctx.meta.listChunks(uploadId, { from: chunks.length === 0 ? 0 : chunks[chunks.length - 1]!.index + 1, limit: pageSize });
    chunks.push(...page);
    if (page.length < pageSize) return chunks;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function digestOf(ctx: ServerContext, blobRef: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  for await (const part of ctx.blobs.read(blobRef, 0, size, { reuseBuffers: true })) hash.update(part);
  return formatDigest({ algorithm: 'sha-256', base64: bytesToBase64(hash.digest()) });
}

/**
 * A strong entity tag for a file: the SHA-256 of its chunk digests. Any change to any byte changes a
 * chunk digest and so the tag, and it costs no read of the file.
 */
export function etagOf(chunkDigests: string[]): string {
  return `"${createHash('sha256').update(chunkDigests.join('\n')).digest('base64url')}"`;
}

/** Completes uploads whose last chunk was recorded but whose completion a crash interrupted. */
export async function recoverCompletions(ctx: ServerContext): Promise<number> {
  let done = 0;
  for (const upload of await ctx.meta.listUnfinished(1000)) {
    try {
      await completeUpload(ctx, upload);
      done++;
    } catch (error) {
      ctx.log.error({ uploadId: upload.id, err: error }, 'completion recovery failed');
    }
  }
  return done;
}

/**
 * Finishes the clean-up of uploads whose assembled file failed its digest check when a crash cut it
 * short: state 'failed' but chunk rows still there. Completing again (idempotent once the rename is
 * done) gives the file's reference to delete; when the file is already gone there is nothing to do.
 */
export async function recoverFailedCompletions(ctx: ServerContext): Promise<number> {
  let freed = 0;
  for (const upload of await ctx.meta.listDue('failed', Number.MAX_SAFE_INTEGER, 1000)) {
    const chunks = await ctx.meta.listChunks(upload.id);
    if (chunks.length === 0 || !upload.fileId) continue;
    const blobRef = await ctx.blobs.complete(upload.blobHandle, upload.fileId, chunks.map((c) => c.receipt)).catch(() => null);
    if (blobRef !== null) await ctx.blobs.deleteFile(blobRef);
    await ctx.meta.forgetChunks(upload.id);
    ctx.log.warn({ uploadId: upload.id, event: 'storage-recovered', state: 'failed' }, 'deleted the file of an upload that failed verification');
    freed++;
  }
  return freed;
}
