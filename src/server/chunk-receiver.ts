// Storing one chunk: validate, stream to the blob store while hashing, verify, record, maybe complete.
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import {
  bytesToBase64,
  chunkLength,
  FerryError,
  formatDigest,
  Headers,
  parseDigestField,
  Paths,
  type ChunkAck,
} from '../protocol/index.js';
import type { BlobStoreOptions, ChunkPlace, ChunkRecord, StagedResult, UploadRecord } from '../stores/types.js';
import { checkDeclaredLength, verifiedBody } from './chunk-body.js';
import { completeUpload } from './completion.js';
import { chunkLeaseMs, takeChunkLease, type ChunkLease } from './chunk-lease.js';
import type { ServerContext } from './context.js';
import { isStorageFull } from './http.js';
import { errorSummary, requestIdOf } from './request-log.js';
import { closedUploadProblem } from './upload-lifecycle.js';

export interface ChunkResult {
  /** 201 when stored by this request, 200 when it was already stored. */
  status: 200 | 201;
  ack: ChunkAck;
}

export async function receiveChunk(
  ctx: ServerContext,
  req: IncomingMessage,
  upload: UploadRecord,
  index: number,
  base: string,
): Promise<ChunkResult> {
  const started = ctx.now();
  const fields = { uploadId: upload.id, index, event: 'chunk', requestId: requestIdOf(req) };
  try {
    // A retry can overtake the request it replaces (its connection broke, and this node is still
    // keeping what arrived): it waits for it, within a lease's length, rather than meet its lease.
    await ctx.goneWrites.settleChunk(upload.id, index, chunkLeaseMs(ctx));
    const work = storeChunk(ctx, req, upload, index, base);
    ctx.goneWrites.track(upload.id, index, req.socket, work);
    const result = await work;
    ctx.metrics.inc(result.status === 201 ? 'ferry_chunks_stored_total' : 'ferry_chunks_duplicate_total');
    if (result.status === 201) ctx.metrics.inc('ferry_chunk_bytes_stored_total', result.ack.size);
    ctx.metrics.observe('ferry_chunk_duration_seconds', (ctx.now() - started) / 1000, { outcome: result.ack.duplicate ? 'duplicate' : 'stored' });
    ctx.log.info(
      { ...fields, bytes: result.ack.size, durationMs: ctx.now() - started, outcome: result.ack.duplicate ? 'duplicate' : 'stored' },
      'chunk ok',
    );
    return result;
  } catch (error) {
    const code =
      error instanceof FerryError ? error.code : req.socket.destroyed ? 'client-disconnected' : isStorageFull(error) ? 'insufficient-storage' : 'internal-error';
    ctx.metrics.inc('ferry_chunks_failed_total', 1, { code });
    ctx.metrics.observe('ferry_chunk_duration_seconds', (ctx.now() - started) / 1000, { outcome: code });
    ctx.log.warn({ ...fields, durationMs: ctx.now() - started, outcome: code, error: error instanceof FerryError ? undefined : errorSummary(error) }, 'chunk failed');
    throw error;
  }
}

async function storeChunk(
  ctx: ServerContext,
  req: IncomingMessage,
  upload: UploadRecord,
  index: number,
  base: string,
): Promise<ChunkResult> {
  if (upload.protocol !== 'ferry') {
    throw new FerryError('stream-upload', `Upload ${upload.id} is written as a byte stream (${upload.protocol}) at /tus/${encodeURIComponent(upload.id)}, not by chunks.`);
  }
  if (!Number.isSafeInteger(index) || index < 0 || index >= upload.totalChunks) {
    throw new FerryError('invalid-chunk-index', `Chunk indexes of this upload are 0 to ${upload.totalChunks - 1}.`);
  }
  const declared = parseDigestField(req.headers[Headers.contentDigest] as string | undefined, upload.algorithm);
  const expected = formatDigest(declared);
  const length = chunkLength(upload.size, upload.chunkSize, index);
  // A continued chunk: the body is the rest after the bytes a cut request left staged.
  const from = chunkOffset(req.headers[Headers.chunkOffset], length);
  checkDeclaredLength(req, length - from);

  if (upload.state !== 'uploading') {
    // A replay of a stored chunk still succeeds once the upload is completing or complete, so a
    // client whose ack was lost can finish.
    const stored = upload.state === 'complete' || upload.state === 'completing' ? await ctx.meta.getChunk(upload.id, index) : undefined;
    if (!stored) throw closedUploadProblem(upload);
    if (upload.state === 'complete') return answerStored(upload, stored, expected, upload.totalChunks, base);
    return answerStored(await finish(ctx, upload), stored, expected, upload.totalChunks, base);
  }
  const existing = await ctx.meta.getChunk(upload.id, index);
  if (existing) {
    // Every chunk is in but the completion did not run (a crash): finish it now for the client.
    if (upload.chunksReceived === upload.totalChunks) return answerStored(await finish(ctx, upload), existing, expected, upload.totalChunks, base);
    return answerStored(upload, existing, expected, upload.chunksReceived, base);
  }

  const lease = await takeChunkLease(ctx, upload.id, index);
  if (!lease) throw chunkInProgress(index);
  let recorded: { chunksReceived: number };
  // Staged bytes to leave for the next writer should this one fail (the claim's count goes otherwise).
  let keep = 0;
  try {
    // The writer that held the lease may have stored the chunk before it let go.
    const stored = await ctx.meta.getChunk(upload.id, index);
    if (stored) return answerStored(upload, stored, expected, upload.chunksReceived, base);
    const place = { index, offset: index * upload.chunkSize, length };
    const hash = createHash('sha256');
    // A continuation builds on what earlier writers kept of the chunk; one that starts before its end
    // (the client's status was older) has its first bytes skipped, not written twice. A whole chunk
    // (no offset) is written whole, whatever is kept.
    if (from > 0) keep = await ctx.meta.stagedBytes(upload.id, index);
    if (keep < from) {
      throw new FerryError('chunk-offset-mismatch', `The server keeps ${keep} bytes of chunk ${index}; Ferry-Chunk-Offset says ${from}.`, { staged: keep });
    }
    // The digest covers the whole chunk: the kept bytes are read back to hash them first.
    if (keep > 0) for await (const piece of ctx.blobs.readStaged(upload.blobHandle, place, keep)) hash.update(piece);
    const body = lease.guard(verifiedBody(req, length - from, hash, (n) => ctx.metrics.inc('ferry_chunk_bytes_received_total', n), keep - from));
    const options = declared.algorithm === 'sha-256' ? { sha256: declared.base64 } : {};
    const written = await writeChunk(ctx, upload, place, keep, body, options, lease).catch(async (error: unknown) => {
      // An abort or expiry that won the race has freed the upload's storage under this request.
      const current = error instanceof FerryError ? undefined : await ctx.meta.getUpload(upload.id);
      if (current && current.state !== 'uploading') throw closedUploadProblem(current);
      throw error;
    });
    if ('failure' in written) {
      keep = written.kept;
      throw written.failure;
    }
    const { receipt } = written;
    const actual = formatDigest({ algorithm: upload.algorithm, base64: bytesToBase64(hash.digest()) });
    if (actual !== expected) {
      // Damaged bytes may be among those staged before: the chunk starts over.
      keep = 0;
      throw new FerryError('digest-mismatch', `Chunk ${index} hashes to ${actual}, not ${expected}.`, { expected, actual });
    }
    const chunk: ChunkRecord = { index, size: length, digest: actual, receipt };
    // Only while this request still holds the lease: a writer taken over never records its bytes.
    const result = await ctx.meta.recordChunk(upload.id, chunk, ctx.now() + ctx.config.uploadTtlSeconds * 1000, lease.token);
    if (result.outcome === 'closed') throw closedUploadProblem({ id: upload.id, state: result.state });
    if (result.outcome === 'exists') return answerStored(upload, result.existing, expected, upload.chunksReceived, base);
    if (result.outcome === 'claim-lost') throw chunkInProgress(index);
    recorded = result;
  } catch (error) {
    // The answer is the request's own failure: a store that cannot keep the count (the bytes are then
    // sent again) is logged, never answered in its place.
    const kept = keep > 0 && (await ctx.meta.keepStaged(upload.id, index, lease.token, keep).catch((err: unknown) => {
      ctx.log.warn({ uploadId: upload.id, index, err }, 'could not keep a chunk part-way in');
      return false;
    }));
    if (kept) ctx.log.info({ uploadId: upload.id, index, staged: keep, event: 'chunk' }, 'chunk kept part-way in');
    throw error;
  } finally {
    await lease.release();
  }

  let fileId: string | null = null;
  if (recorded.chunksReceived === upload.totalChunks) {
    fileId = (await completeUpload(ctx, upload))?.id ?? null;
  }
  return {
    status: 201,
    ack: ack(upload, index, length, expected, false, recorded.chunksReceived, fileId, base),
  };
}

/**
 * Writes the chunk's bytes after the first `have` (already staged): its receipt, or why the body
 * failed and how many bytes of the chunk are staged for a next writer. Where the blob store stages in
 * place, or the chunk is continued, a body cut part-way keeps what arrived. A body refused for what it
 * is (too long, too short) keeps only what was staged before it.
 */
async function writeChunk(
  ctx: ServerContext,
  upload: UploadRecord,
  place: ChunkPlace,
  have: number,
  body: AsyncIterable<Uint8Array>,
  options: BlobStoreOptions,
  lease: ChunkLease,
): Promise<{ receipt: string } | { failure: unknown; kept: number }> {
  if (have === 0 && !ctx.blobs.stagesInPlace) return { receipt: await ctx.blobs.putChunk(upload.blobHandle, place, body, options) };
  // A writer taken over (its body stalled, then broke) must not write over its successor's chunk.
  const fenced = lease.fence(body);
  let result: StagedResult;
  try {
    result = await ctx.blobs.stageChunk(upload.blobHandle, place, have, fenced.body, { ...options, signal: fenced.signal });
  } catch (error) {
    if (fenced.signal.aborted) throw new FerryError('chunk-in-progress', `Chunk ${place.index} was taken over by another request while this one stalled.`, { retryAfter: 1 });
    throw error;
  }
  if (result.receipt !== null) return { receipt: result.receipt };
  const failure = result.failure ?? new FerryError('chunk-length-mismatch', `Chunk ${place.index} is ${place.length} bytes; the body ended short.`);
  return { failure, kept: failure instanceof FerryError ? have : result.staged };
}

/**
 * The Ferry-Chunk-Offset header: 0 when absent, else the bytes of the chunk the client says the server
 * keeps: 0, or below the chunk's length (a whole chunk is not continued).
 */
function chunkOffset(header: string | string[] | undefined, length: number): number {
  if (header === undefined) return 0;
  const text = Array.isArray(header) ? header.join(',') : header;
  const offset = /^\d{1,15}$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!(offset === 0 || (offset > 0 && offset < length))) {
    throw new FerryError('invalid-chunk-offset', `Ferry-Chunk-Offset "${text.slice(0, 40)}" is not a byte offset inside this ${length}-byte chunk.`);
  }
  return offset;
}

/** `upload` once its completion has run (here, or elsewhere within the wait); still 'completing' if not. */
async function finish(ctx: ServerContext, upload: UploadRecord): Promise<UploadRecord> {
  const file = await completeUpload(ctx, upload);
  return file ? { ...upload, state: 'complete', fileId: file.id } : { ...upload, state: 'completing' };
}

/** The answer when the chunk is already stored: success if the digests agree, else a conflict. */
function answerStored(upload: UploadRecord, stored: ChunkRecord, expected: string, received: number, base: string): ChunkResult {
  if (stored.digest !== expected) {
    throw new FerryError('chunk-conflict', `Chunk ${stored.index} is stored with digest ${stored.digest}.`, {
      storedDigest: stored.digest,
    });
  }
  const fileId = upload.state === 'complete' ? upload.fileId : null;
  return { status: 200, ack: ack(upload, stored.index, stored.size, stored.digest, true, received, fileId, base) };
}

function ack(
  upload: UploadRecord,
  index: number,
  size: number,
  digest: string,
  duplicate: boolean,
  chunksReceived: number,
  fileId: string | null,
  base: string,
): ChunkAck {
  return {
    uploadId: upload.id,
    index,
    size,
    digest,
    duplicate,
    chunksReceived,
    totalChunks: upload.totalChunks,
    state: fileId ? 'complete' : upload.state,
    complete: fileId !== null,
    fileId,
    fileUrl: fileId ? base + Paths.file(fileId) : null,
  };
}

function chunkInProgress(index: number): FerryError {
  return new FerryError('chunk-in-progress', `Another request is writing chunk ${index}; retry shortly.`, { retryAfter: 1 });
}
