// Finds or creates the upload on the server: capabilities, the resume store, creation (with the
// first chunk when the server supports it). Leaves the list of chunks still to send.
import {
  FerryError,
  type Capabilities,
  type CreateUploadRequest,
  type CreateUploadResponse,
  type UploadStatus,
} from '../../protocol/index.js';
import { withRetry } from '../engine/retry-loop.js';
import { emitProgress } from '../engine/transfer.js';
import { readChunk } from './chunk-sender.js';
import { type UploadContext, type UploadRef } from './context.js';
import { UploadError } from './errors.js';
import { sendCreation } from './creation.js';
import { computeFileDigest } from './file-digest.js';
import { chunkRange, longLinkChunkSize, missingChunks, planChunks, type ChunkPlan } from './plan.js';

export interface OpenedUpload {
  ref: UploadRef;
  /** Chunks still to send, ascending. */
  pending: number[];
}

/** Problems meaning a remembered upload is gone for good: start over. */
const goneCodes = new Set(['upload-not-found', 'not-found', 'upload-expired', 'upload-aborted', 'upload-failed']);

/** `key`: the source's resume store key, or null when it is not resumable. */
export async function openUpload(ctx: UploadContext, key: string | null): Promise<OpenedUpload> {
  const { signal } = ctx;
  const { clock } = ctx.o.io;
  const asked = clock.now();
  const caps = await withRetry(() => ctx.api.capabilities(signal), ctx.retry, { what: 'GET capabilities' }, signal);
  // A connection and a request: two round trips. Decided before a resume too, which ramps the same way.
  const longLink = ctx.controller.firstRequests(clock.now() - asked, 2);
  if (!caps.checksums.includes(ctx.o.checksum)) {
    throw new UploadError('invalid', `The server does not accept ${ctx.o.checksum} checksums (it accepts ${caps.checksums.join(', ')}).`);
  }
  if (key !== null) {
    const resumed = await tryResume(ctx, key);
    if (resumed) return resumed;
  }
  return createFresh(ctx, caps, key, longLink);
}

async function tryResume(ctx: UploadContext, key: string): Promise<OpenedUpload | null> {
  const store = ctx.o.io.resumeStore;
  const entry = await store.get(key);
  if (!entry) return null;
  let status: UploadStatus;
  try {
    status = await withRetry(() => ctx.api.status(entry.uploadUrl, ctx.signal), ctx.retry, { what: 'GET upload status' }, ctx.signal);
  } catch (e) {
    const problem = e instanceof UploadError ? e.problem : null;
    if (problem && goneCodes.has(problem.code)) {
      await store.delete(key);
      return null;
    }
    throw e;
  }
  const usable = (status.state === 'uploading' || status.state === 'completing' || status.state === 'complete') && status.size === ctx.source.size;
  if (!usable) {
    await store.delete(key);
    return null;
  }
  const plan: ChunkPlan = { size: status.size, chunkSize: status.chunkSize, totalChunks: status.totalChunks };
  const ref = refFrom(status, plan, key, status.fileDigest, true);
  ctx.server.upload = { uploadId: ref.uploadId, uploadUrl: ref.uploadUrl };
  // The server slides the expiry with activity; keep the entry from being pruned as stale.
  if (status.state === 'uploading') await store.set(key, { ...entry, expiresAt: Date.parse(status.expiresAt) || entry.expiresAt });
  const pending = status.state !== 'uploading' ? [] : missingChunks(status.missing, plan.totalChunks);
  startProgress(ctx, ref, pending);
  return { ref, pending };
}

async function createFresh(ctx: UploadContext, caps: Capabilities, key: string | null, longLink: boolean): Promise<OpenedUpload> {
  const { signal, source } = ctx;
  const { clock } = ctx.o.io;
  const plan = planChunks(source.size, ctx.o.chunkSize ?? (longLink ? longLinkChunkSize(source.size, caps) : undefined), caps);
  let fileDigest = ctx.o.fileDigest ?? null;
  if (fileDigest === 'compute') {
    fileDigest = await computeFileDigest(source, ctx.o.io.hasher, ctx.o.checksum, plan.chunkSize, signal);
  }
  const req: CreateUploadRequest = {
    name: ctx.o.name ?? source.name,
    size: source.size,
    chunkSize: plan.chunkSize,
    checksum: ctx.o.checksum,
    ...(fileDigest !== null ? { fileDigest } : {}),
    ...(ctx.o.metadata ? { metadata: ctx.o.metadata } : {}),
  };
  let created: CreateUploadResponse;
  // A file of one chunk goes in one request, its creation. A longer one is created empty, and all of
  // its chunks then go in parallel: chunk 0 sent alone first cost a whole chunk's time on a long link
  // (8 MiB at 20 MiB/s: 0.4 s of a 2.1 s transfer), where an empty creation costs one round trip.
  if (caps.creationWithFirstChunk && plan.totalChunks === 1) {
    ctx.progress.plan(source.size, plan.totalChunks, clock.now());
    // The start as it is before chunk 0 goes out with the creation: nothing sent, nothing stored.
    emitProgress(ctx);
    let chunk = await readChunk(ctx, plan, 0, signal);
    const length = chunk.bytes.byteLength;
    let startedAt = clock.now();
    created = await withRetry(
      async (previous) => {
        if (previous?.kind === 'corrupt') chunk = await readChunk(ctx, plan, 0, signal);
        startedAt = clock.now();
        ctx.progress.sending(length);
        emitProgress(ctx);
        try {
          return await sendCreation(ctx, (s) => ctx.api.createWithFirstChunk(req, chunk, s));
        } finally {
          ctx.progress.sent(length);
        }
      },
      ctx.retry,
      { what: 'create upload with chunk 0', index: 0 },
      signal,
    );
    const now = clock.now();
    ctx.controller.seed(length, now - startedAt);
    if (created.firstChunk) ctx.progress.chunkDone(0, length, now, true);
  } else {
    created = await withRetry(() => sendCreation(ctx, (s) => ctx.api.create(req, s)), ctx.retry, { what: 'create upload' }, signal);
    ctx.progress.plan(source.size, created.totalChunks, clock.now());
  }
  const serverPlan: ChunkPlan = { size: created.size, chunkSize: created.chunkSize, totalChunks: created.totalChunks };
  if (created.size !== source.size) {
    throw new UploadError('protocol', `The server created an upload of ${created.size} bytes, not ${source.size}.`);
  }
  const ref = refFrom(created, serverPlan, key, fileDigest, false);
  if (key !== null && !ref.finished) {
    await ctx.o.io.resumeStore.set(key, {
      uploadId: ref.uploadId,
      uploadUrl: ref.uploadUrl,
      serverUrl: ctx.api.serverUrl,
      name: created.name,
      size: created.size,
      chunkSize: created.chunkSize,
      totalChunks: created.totalChunks,
      createdAt: Date.parse(created.createdAt) || clock.now(),
      expiresAt: Date.parse(created.expiresAt) || clock.now(),
    });
  }
  const pending = created.state === 'complete' ? [] : missingChunks(created.missing, serverPlan.totalChunks);
  startProgress(ctx, ref, pending);
  return { ref, pending };
}

function refFrom(status: UploadStatus, plan: ChunkPlan, key: string | null, fileDigest: string | null, resumed: boolean): UploadRef {
  if (status.state === 'complete' && (status.fileId === null || status.fileUrl === null)) {
    throw new FerryError('internal-error', 'The server reports a complete upload without a file.');
  }
  return {
    uploadId: status.uploadId,
    uploadUrl: status.uploadUrl,
    plan,
    resumeKey: key,
    fileDigest,
    resumed,
    finished: status.state === 'complete' ? { fileId: status.fileId!, fileUrl: status.fileUrl! } : null,
  };
}

/** Counts what the server already has and announces the upload. */
function startProgress(ctx: UploadContext, ref: UploadRef, pending: number[]): void {
  const now = ctx.o.io.clock.now();
  const { plan } = ref;
  if (ref.resumed) ctx.progress.plan(plan.size, plan.totalChunks, now);
  const missing = new Set(pending);
  for (let i = 0; i < plan.totalChunks; i++) {
    if (!missing.has(i) || ref.finished) {
      const { start, end } = chunkRange(plan, i);
      ctx.progress.chunkDone(i, end - start, now, false);
    }
  }
  ctx.events.emit('started', {
    uploadId: ref.uploadId,
    uploadUrl: ref.uploadUrl,
    resumed: ref.resumed,
    chunkSize: plan.chunkSize,
    totalChunks: plan.totalChunks,
  });
  emitProgress(ctx);
}
