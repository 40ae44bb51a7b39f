// Assembling an upload into a file once its last chunk is recorded: exactly once across nodes, crash-safe.
import { createHash, randomUUID } from 'node:crypto';
import { bytesToBase64, FerryError, fileEtag, fileEtagInput, formatDigest, readMetadata } from '../protocol/index.js';
import type { ChunkRecord, FileRecord, UploadRecord } from '../stores/types.js';
import { chunkLeaseMs } from './chunk-lease.js';
import type { ServerContext } from './context.js';
import { announceEvent, eventData, prepareEvent } from './events.js';
import { StoredBytesMismatch } from '../stores/errors.js';
import { completionClaim, HeldClaim } from '../stores/held-claim.js';
import { storedManifest } from './manifest.js';
import { closedUploadProblem } from './upload-lifecycle.js';

/** How long a request that brought the last chunk waits for a completion another request holds. */
const completionWaitMs = 5_000;

/**
 * Completes `upload` (every chunk must be recorded): moves it to 'completing', takes its completion
 * lease in the metadata store and assembles the file. When another request holds the lease (on this
 * node or another), waits up to a few seconds for it with `wait`, else not at all. Returns the file,
 * or null while the completion is still under way elsewhere (the client then asks the status).
 * A completion cut short by a crash keeps its 'completing' state: whoever comes next (a chunk or
 * status request, the sweep, a restart) takes the expired lease and runs it again; every step is
 * idempotent and only the one that moves the upload to 'complete' reports it.
 */
export function completeUpload(ctx: ServerContext, upload: UploadRecord, options: { wait?: boolean } = {}): Promise<FileRecord | null> {
  let running = ctx.completions.get(upload.id);
  if (!running) {
    running = leadCompletion(ctx, upload.id, options.wait ?? true).finally(() => ctx.completions.delete(upload.id));
    ctx.completions.set(upload.id, running);
  }
  return running;
}

async function leadCompletion(ctx: ServerContext, uploadId: string, wait: boolean): Promise<FileRecord | null> {
  const deadline = ctx.now() + (wait ? completionWaitMs : 0);
  for (let round = 0; ; round++) {
    const upload = await ctx.meta.getUpload(uploadId);
    if (!upload) throw new FerryError('upload-not-found', `No upload ${uploadId}.`);
    if (upload.state === 'complete') return fileOf(ctx, upload);
    if (upload.state === 'uploading') {
      if (upload.role !== 'file' || upload.lengthDeferred) {
        throw new FerryError('internal-error', `Upload ${uploadId} is ${upload.role === 'part' ? 'a tus partial upload' : 'of a length not said yet'}: it does not complete by itself.`);
      }
      if (upload.chunksReceived !== upload.totalChunks) {
        throw new FerryError('internal-error', `Upload ${uploadId} has ${upload.chunksReceived} of ${upload.totalChunks} chunks.`);
      }
      // Whoever moves it, it is completing now (or ended meanwhile): read it again either way.
      await ctx.meta.transition(uploadId, ['uploading'], 'completing');
      continue;
    }
    if (upload.state !== 'completing') throw closedUploadProblem(upload);
    const lease = await takeCompletionLease(ctx, uploadId);
    if (lease) {
      try {
        return await runCompletion(ctx, upload, lease);
      } finally {
        await lease.release();
      }
    }
    if (ctx.now() >= deadline) return null;
    await new Promise((resolve) => setTimeout(resolve, Math.min(250, 25 * 2 ** Math.min(round, 4))));
  }
}

async function fileOf(ctx: ServerContext, upload: UploadRecord): Promise<FileRecord> {
  const file = upload.fileId ? await ctx.meta.getFile(upload.fileId) : undefined;
  // Completed, then deleted: the file is gone, as for anyone who asks for it now.
  if (!file) throw new FerryError('file-not-found', `The file of upload ${upload.id} was deleted.`);
  return file;
}

/**
 * The completion lease, renewed on a timer while the (possibly long) steps run, so a live completer
 * keeps it and a dead one's lapses for another node to take.
 */
function takeCompletionLease(ctx: ServerContext, uploadId: string): Promise<HeldClaim | undefined> {
  return HeldClaim.take(ctx.meta, uploadId, completionClaim, {
    token: `${ctx.nodeId}/${randomUUID()}`,
    leaseMs: Math.max(2_000, chunkLeaseMs(ctx)),
    now: ctx.now,
    onError: (err) => ctx.log.warn({ uploadId, err }, 'could not renew or give up the completion lease'),
  });
}

/** The steps, for an upload in 'completing' whose lease this request holds. */
async function runCompletion(ctx: ServerContext, upload: UploadRecord, lease: HeldClaim): Promise<FileRecord | null> {
  const started = ctx.now();
  const fileId = upload.fileId;
  if (!fileId) throw new FerryError('internal-error', `Upload ${upload.id} has no file id.`);
  const chunks = await allChunks(ctx, upload.id);
  if (chunks.length !== upload.totalChunks) {
    throw new FerryError('internal-error', `Upload ${upload.id} has ${chunks.length} of ${upload.totalChunks} chunks.`);
  }
  let blobRef: string;
  try {
    blobRef = await ctx.blobs.complete(upload.blobHandle, fileId, chunks.map((c) => c.receipt));
  } catch (error) {
    // The stored bytes are not the recorded ones (a part replaced late, or lost): retrying cannot
    // help, and assembling would give a file that matches no chunk. The upload fails, its client
    // starts again; stuck in 'completing' it would be retried by every sweep for ever.
    if (error instanceof StoredBytesMismatch) await failUpload(ctx, upload, { reason: error.message }, () => ctx.blobs.abort(upload.blobHandle));
    throw error;
  }

  if (upload.fileDigest) {
    // Reading the file back costs one sequential pass; only uploads that declare a digest pay it.
    const actual = await digestOf(ctx, blobRef, upload.size);
    if (actual !== upload.fileDigest) {
      await failUpload(ctx, upload, { expected: upload.fileDigest, actual }, () => ctx.blobs.deleteFile(blobRef));
      throw new FerryError('file-digest-mismatch', `The assembled file's digest is ${actual}, not the declared ${upload.fileDigest}.`, {
        expected: upload.fileDigest,
        actual,
      });
    }
  }

  // A completer that stalled past its lease (another took over and may have finished, and the file
  // may be deleted since) must not write a file record now: it would name bytes that are gone. It
  // answers with what the upload is now instead.
  if (!(await lease.renew())) return leadCompletion(ctx, upload.id, false);
  const file = (await ctx.meta.getFile(fileId)) ?? (await createFileRecord(ctx, upload, fileId, blobRef, chunks));
  // Serialised once, here, so manifest requests serve stored bytes instead of listing every chunk.
  // Not fatal: a manifest missing for any reason is built at its first request.
  await storedManifest(ctx, file, chunks).catch((error: unknown) => {
    ctx.log.warn({ uploadId: upload.id, fileId, err: error }, 'could not store the manifest; it will be built when first asked for');
  });
  // Only the run that moves the upload to complete reports it (a rerun after a crash may find it done).
  const completed = prepareEvent(ctx, 'upload.completed', eventData(ctx, upload, file));
  const completedHere = await ctx.meta.transition(upload.id, ['completing'], 'complete', { fileId }, completed.deliveries);
  if (!completedHere) {
    const now = await ctx.meta.getUpload(upload.id);
    // Another completer (whose lease this one took after it stalled) finished first: the same file.
    if (now?.state === 'complete') return file;
    throw closedUploadProblem(now ?? upload);
  }
  ctx.metrics.inc('ferry_uploads_completed_total');
  ctx.log.info(
    { uploadId: upload.id, fileId, event: 'upload-complete', bytes: upload.size, durationMs: ctx.now() - started, node: ctx.nodeId },
    'upload complete',
  );
  await announceEvent(ctx, completed);
  return file;
}

/**
 * Ends a completion that cannot succeed: 'completing' becomes 'failed' (reported once), then the
 * bytes are freed and the chunk rows dropped. The state first: a crash after it leaves chunk rows
 * behind, which recoverFailedCompletions takes as the sign that the bytes still have to go. Only the
 * request that made the change cleans up (another that lost the race leaves it to the winner).
 */
async function failUpload(ctx: ServerContext, upload: UploadRecord, why: Record<string, string>, freeBytes: () => Promise<void>): Promise<void> {
  const failed = prepareEvent(ctx, 'upload.failed', eventData(ctx, upload, null));
  if (!(await ctx.meta.transition(upload.id, ['completing'], 'failed', {}, failed.deliveries))) return;
  await freeBytes();
  await ctx.meta.forgetChunks(upload.id);
  if (upload.grantId) await ctx.meta.releaseGrant(upload.grantId, upload.size);
  ctx.metrics.inc('ferry_uploads_failed_total');
  ctx.log.warn({ uploadId: upload.id, event: 'upload-failed', ...why }, 'upload failed: its stored bytes are not the ones sent');
  await announceEvent(ctx, failed);
}

async function createFileRecord(ctx: ServerContext, upload: UploadRecord, fileId: string, blobRef: string, chunks: ChunkRecord[]): Promise<FileRecord> {
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
  try {
    await ctx.meta.createFile(record);
    return record;
  } catch (error) {
    // A completer that lost its lease mid-way may have written the same record first.
    const existing = await ctx.meta.getFile(fileId);
    if (existing) return existing;
    throw error;
  }
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

/** A file's strong entity tag (see protocol/etag.ts): costs no read of the file. */
export function etagOf(chunkDigests: string[]): string {
  return fileEtag(createHash('sha256').update(fileEtagInput(chunkDigests)).digest());
}

/**
 * Runs completions nobody is running: uploads with every chunk in that never reached 'completing', and
 * 'completing' ones whose completer died (its lease lapsed). One held elsewhere is left to its holder.
 */
export async function recoverCompletions(ctx: ServerContext): Promise<number> {
  let done = 0;
  for (const upload of await ctx.meta.listUnfinished(1000)) {
    try {
      if (await completeUpload(ctx, upload, { wait: false })) done++;
    } catch (error) {
      ctx.log.error({ uploadId: upload.id, err: error }, 'completion recovery failed');
    }
  }
  return done;
}

/**
 * Finishes the clean-up of uploads whose assembled file failed its digest check when a crash cut it
 * short: state 'failed' but chunk rows still there. Frees both what may be left, the incomplete
 * storage and the assembled file, without assembling anything again. Safe on several nodes at once.
 */
export async function recoverFailedCompletions(ctx: ServerContext): Promise<number> {
  let freed = 0;
  for (const upload of await ctx.meta.listDue('failed', Number.MAX_SAFE_INTEGER, 1000)) {
    try {
      const chunks = await ctx.meta.listChunks(upload.id, { from: 0, limit: 1 });
      if (chunks.length === 0 || !upload.fileId) continue;
      await ctx.blobs.abort(upload.blobHandle);
      await ctx.blobs.deleteFile(ctx.blobs.fileRefOf(upload.blobHandle, upload.fileId));
      await ctx.meta.forgetChunks(upload.id);
      ctx.log.warn({ uploadId: upload.id, event: 'storage-recovered', state: 'failed' }, 'deleted the file of an upload that failed verification');
      freed++;
    } catch (error) {
      ctx.log.error({ uploadId: upload.id, err: error }, 'clean-up of a failed upload failed; the next sweep tries again');
    }
  }
  return freed;
}
