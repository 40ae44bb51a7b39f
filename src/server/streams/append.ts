// Appending a stream upload's bytes (tus PATCH, IETF PATCH, a concatenation) at its offset: the body is
// cut at chunk boundaries; each whole chunk is stored and recorded with its digest, the rest is staged.
import { createHash, type Hash } from 'node:crypto';
import { bytesToBase64, chunkCount, chunkLength, FerryError, formatDigest } from '../../protocol/index.js';
import { streamWriterClaim } from '../../stores/held-claim.js';
import type { ChunkPlace, ChunkRecord, StagedResult, StreamStep, UploadRecord } from '../../stores/types.js';
import { takeChunkLease, type ChunkLease } from '../chunk-lease.js';
import { completeUpload } from '../completion.js';
import type { ServerContext } from '../context.js';
import { awaitsCompletion, closedUploadProblem } from '../upload-lifecycle.js';
import { BodyCutter } from './body-cutter.js';
import { streamOffset } from './offset.js';

export type BodyChecksumAlgorithm = 'sha1' | 'md5' | 'sha256';

export interface AppendRequest {
  /** The offset the client says it writes at (Upload-Offset). */
  offset: number;
  /** The body's bytes. */
  body: AsyncIterable<Uint8Array>;
  /** Content-Length when declared (checked against the room left before anything is written). */
  contentLength?: number;
  /** tus Upload-Checksum: the body as a whole must hash to this, else nothing of it is kept. */
  checksum?: { algorithm: BodyChecksumAlgorithm; base64: string };
  /** The final length, when the client says it now (tus Upload-Length on a deferred upload). */
  length?: number;
  /** IETF Upload-Complete ?1: this body ends the upload (its length is the offset after it). */
  complete?: boolean;
  /** The bytes of a tus final upload's partials (only the concatenation may write a final upload). */
  concatenation?: true;
}

export interface AppendResult {
  /** The upload after the request. */
  upload: UploadRecord;
  /** The offset now: what is durably kept. */
  offset: number;
  /** The file's id when this request completed the upload into a file (or found it complete). */
  fileId: string | null;
}

/**
 * Appends `r.body` to `upload` at `r.offset`, as its single writer (others get upload-locked meanwhile).
 * Bytes are kept as they become durable: every whole chunk is recorded as it is stored, and the bytes
 * of an unfinished chunk are staged when the body ends or is cut, so a reconnecting client resumes at
 * the offset of the last byte kept. With a checksum, nothing of the body is kept unless it matches.
 * A body that fails part-way throws its failure after what arrived is kept.
 */
export async function appendToStream(ctx: ServerContext, upload: UploadRecord, r: AppendRequest): Promise<AppendResult> {
  checkAppend(upload, r);
  const lease = await takeChunkLease(ctx, upload.id, streamWriterClaim);
  if (!lease) {
    throw new FerryError('upload-locked', `Another request is writing upload ${upload.id}; retry shortly.`, { retryAfter: 1 });
  }
  let current: UploadRecord;
  try {
    // As it is now that this request is its only writer.
    const now = await ctx.meta.getUpload(upload.id);
    if (!now) throw new FerryError('upload-not-found', `No upload ${upload.id}.`);
    checkAppend(now, r);
    current = await new Appender(ctx, now, r, lease).run();
  } catch (error) {
    await lease.release();
    // Whatever went wrong after the last chunk was recorded (bytes past the length), the file is due.
    const after = await ctx.meta.getUpload(upload.id).catch(() => undefined);
    if (after && awaitsCompletion(after)) await completeUpload(ctx, after).catch(() => null);
    throw error;
  } finally {
    await lease.release();
  }
  let fileId: string | null = null;
  if (awaitsCompletion(current)) {
    const file = await completeUpload(ctx, current);
    current = file ? { ...current, state: 'complete', fileId: file.id } : { ...current, state: 'completing' };
    fileId = file?.id ?? null;
  }
  return { upload: current, offset: streamOffset(current), fileId };
}

/** Refuses what cannot be appended before a byte is read. */
function checkAppend(upload: UploadRecord, r: AppendRequest): void {
  if (upload.protocol === 'ferry') {
    throw new FerryError('stream-upload', `Upload ${upload.id} is written by chunks (Ferry's protocol), not as a byte stream.`);
  }
  if (upload.state !== 'uploading') throw closedUploadProblem(upload);
  if (upload.concatOf && !r.concatenation) {
    throw new FerryError('forbidden', `Upload ${upload.id} is a tus final upload: its bytes are those of its partial uploads.`);
  }
  const offset = streamOffset(upload);
  if (r.offset !== offset) {
    throw new FerryError('upload-offset-mismatch', `Upload ${upload.id} stands at offset ${offset}, not ${r.offset}.`, { offset, providedOffset: r.offset });
  }
  const size = knownLength(upload, r);
  if (r.length !== undefined) {
    if (!upload.lengthDeferred && r.length !== upload.size) {
      throw new FerryError('invalid-upload-length', `Upload ${upload.id} is ${upload.size} bytes long, not ${r.length}.`, { length: upload.size });
    }
    if (r.length < offset) throw new FerryError('invalid-upload-length', `Upload ${upload.id} already has ${offset} bytes; it cannot be ${r.length} long.`, { offset });
    if (r.length > upload.size) throw new FerryError('file-too-large', `This upload can be at most ${upload.size} bytes.`, { maxFileSize: upload.size });
  }
  if (r.contentLength !== undefined) {
    const end = offset + r.contentLength;
    if (size !== null && end > size) throw new FerryError('file-too-large', `The upload is ${size} bytes long; this body would take it to ${end}.`, { length: size });
    if (size === null && end > upload.size) throw new FerryError('file-too-large', `This upload can be at most ${upload.size} bytes.`, { maxFileSize: upload.size });
    if (r.complete && size !== null && end !== size) {
      throw new FerryError('invalid-upload-length', `The upload is ${size} bytes long; this body, said to end it, ends at ${end}.`, { length: size });
    }
  }
}

/** The length as far as is known before the body: declared at creation, or now. */
function knownLength(upload: UploadRecord, r: AppendRequest): number | null {
  if (!upload.lengthDeferred) return upload.size;
  if (r.length !== undefined) return r.length;
  if (r.complete && r.contentLength !== undefined) return streamOffset(upload) + r.contentLength;
  return null;
}

/** One append, chunk by chunk. */
class Appender {
  /** Where the stream stands in the store (what the next step must start from). */
  #at: { chunksReceived: number; stagedBytes: number };
  /** The length, once known (null: still deferred and not said yet). */
  #size: number | null;
  /** A deferred length learned by this request and not yet stored. */
  #newLength: number | null;
  readonly #bodyHash: Hash | null;
  /** Chunks stored but not yet recorded (with a checksum: until the body is verified). */
  readonly #pending: ChunkRecord[] = [];
  #upload: UploadRecord;

  constructor(
    private readonly ctx: ServerContext,
    upload: UploadRecord,
    private readonly r: AppendRequest,
    private readonly lease: ChunkLease,
  ) {
    this.#upload = upload;
    this.#at = { chunksReceived: upload.chunksReceived, stagedBytes: upload.stagedBytes };
    this.#size = knownLength(upload, r);
    this.#newLength = upload.lengthDeferred && this.#size !== null ? this.#size : null;
    this.#bodyHash = r.checksum ? createHash(r.checksum.algorithm) : null;
  }

  async run(): Promise<UploadRecord> {
    const body = new BodyCutter(this.lease.guard(this.r.body));
    let index = this.#at.chunksReceived;
    let have = this.#at.stagedBytes;
    let received = 0;
    /** The chunk whose bytes are all in, being made durable and recorded while the next arrives. */
    let tail: Promise<void> = Promise.resolve();
    try {
      for (;;) {
        const total = this.#size === null ? this.#upload.totalChunks : chunkCount(this.#size, this.#upload.chunkSize);
        if (index >= total) break;
        // Not knowing the length yet, chunks are full ones up to the most the upload may become.
        const length = chunkLength(this.#size ?? this.#upload.size, this.#upload.chunkSize, index);
        // A chunk already whole from staging (its length just learned) is stored with an empty run.
        if (have < length && !(await body.hasMore())) {
          // The body that ends the upload has ended: the length is where it stopped (IETF, length unsaid).
          if (this.#size === null && this.r.complete && body.ended) {
            await tail; // the chunk before is recorded first, then the length with what follows
            this.#learnLength(index * this.#upload.chunkSize + have);
            continue;
          }
          break;
        }
        const place = { index, offset: index * this.#upload.chunkSize, length };
        const hash = createHash('sha256');
        if (have > 0) {
          for await (const piece of this.ctx.blobs.readStaged(this.#upload.blobHandle, place, have)) hash.update(piece);
        }
        let taken = 0;
        const run = body.take(length - have, (piece) => {
          hash.update(piece);
          this.#bodyHash?.update(piece);
          received += piece.byteLength;
          taken += piece.byteLength;
          this.ctx.metrics.inc('ferry_chunk_bytes_received_total', piece.byteLength);
        });
        let handedOver!: () => void;
        const allHandedOver = new Promise<void>((resolve) => (handedOver = resolve));
        async function* tracked(): AsyncGenerator<Uint8Array> {
          try {
            yield* run;
          } finally {
            handedOver();
          }
        }
        const staging = this.#stage(place, have, tracked());
        const settled = staging.then(
          () => undefined,
          () => undefined,
        );
        await Promise.race([allHandedOver, settled]);
        if (have + taken !== length) {
          // The body stopped inside the chunk (ended, or cut): kept as staged bytes, after those before it.
          await tail;
          const staged = await staging;
          if (staged.receipt !== null) throw new FerryError('internal-error', `Chunk ${index} was stored with ${have + taken} of its ${length} bytes.`);
          have = staged.staged;
          if (staged.failure !== undefined) break;
          continue;
        }
        // Every byte of the chunk is with the store: while it makes them durable and the chunk is
        // recorded (in order, after the chunk before), the next chunk's bytes are already received.
        // So at most two chunks are in hand at once: this one finishing, the next one arriving.
        const before = tail;
        const chunk = { index, length };
        tail = before.then(async () => {
          const staged = await staging;
          if (staged.receipt === null) throw new FerryError('internal-error', `Chunk ${chunk.index} was not stored whole.`);
          const digest = formatDigest({ algorithm: 'sha-256', base64: bytesToBase64(hash.digest()) });
          this.#pending.push({ index: chunk.index, size: chunk.length, digest, receipt: staged.receipt });
          this.ctx.metrics.inc('ferry_chunks_stored_total');
          this.ctx.metrics.inc('ferry_chunk_bytes_stored_total', chunk.length);
          if (!this.#bodyHash) await this.#commit(0);
        });
        tail.catch(() => undefined); // awaited below; never an unhandled rejection meanwhile
        index++;
        have = 0;
        await before;
      }
      await tail;
      if (body.failure !== undefined) {
        // Cut off: what arrived is kept (unless it had to match a checksum nobody can check now).
        if (!this.#bodyHash) await this.#commit(have);
        throw body.failure;
      }
      if (await body.hasMore()) {
        const limit = this.#size ?? this.#upload.size;
        throw new FerryError('file-too-large', `The upload can be ${limit} bytes long at most; the body goes past it.`, { length: limit });
      }
      // The body failed after its last byte (a concatenation's source found a partial chunk corrupt).
      if (body.failure !== undefined) throw body.failure;
      // Where the stream ends now: past its last chunk (which may be short), the length itself.
      const end = this.#size !== null && index >= chunkCount(this.#size, this.#upload.chunkSize) ? this.#size : index * this.#upload.chunkSize + have;
      if (this.#size === null && this.r.complete) this.#learnLength(end);
      if (this.#bodyHash) this.#verify(received);
      await this.#commit(have);
      if (this.r.complete && end !== this.#size) {
        throw new FerryError('invalid-upload-length', `The upload is ${this.#size} bytes long; the body said to end it stopped at ${end}.`, { length: this.#size, offset: end });
      }
      return this.#upload;
    } finally {
      await tail.catch(() => undefined);
      await body.close();
    }
  }

  /**
   * Stages `run` into the chunk at `place`. Should the body fail, the bytes that arrived are kept only
   * while this request still holds the writer's lease: one taken over meanwhile (its body stalled, then
   * was cut) must not touch staging that its successor may have written and recorded since.
   */
  async #stage(place: ChunkPlace, have: number, run: AsyncIterable<Uint8Array>): Promise<StagedResult> {
    const fenced = this.lease.fence(run);
    try {
      return await this.ctx.blobs.stageChunk(this.#upload.blobHandle, place, have, fenced.body, { signal: fenced.signal });
    } catch (error) {
      if (fenced.signal.aborted) throw takenOver(this.#upload.id);
      // An abort or expiry that won the race has freed the upload's storage under this request.
      const now = error instanceof FerryError ? undefined : await this.ctx.meta.getUpload(this.#upload.id);
      if (now && now.state !== 'uploading') throw closedUploadProblem(now);
      throw error;
    }
  }

  /** The length is known now (it was deferred and the body that ends the upload has ended). */
  #learnLength(size: number): void {
    this.#size = size;
    if (this.#upload.lengthDeferred) this.#newLength = size;
  }

  /** Throws checksum-mismatch (nothing of this body kept) unless the body hashes as declared. */
  #verify(received: number): void {
    const expected = this.r.checksum!;
    const actual = this.#bodyHash!.digest('base64');
    if (actual !== expected.base64) {
      throw new FerryError('checksum-mismatch', `The ${received}-byte body hashes to ${expected.algorithm} ${actual}, not ${expected.base64}; none of it was kept.`, {
        algorithm: expected.algorithm,
        expected: expected.base64,
        actual,
      });
    }
  }

  /** Records the pending chunks and `stagedBytes` for the chunk after them (and a new length), atomically. */
  async #commit(stagedBytes: number): Promise<void> {
    const chunks = this.#pending.splice(0);
    if (chunks.length === 0 && stagedBytes === this.#at.stagedBytes && this.#newLength === null) return;
    const step: StreamStep = {
      from: this.#at,
      claimToken: this.lease.token,
      chunks,
      stagedBytes,
      expiresAt: this.ctx.now() + this.ctx.config.uploadTtlSeconds * 1000,
      ...(this.#newLength !== null && { length: { size: this.#newLength, totalChunks: chunkCount(this.#newLength, this.#upload.chunkSize) } }),
    };
    const result = await this.ctx.meta.advanceStream(this.#upload.id, step);
    switch (result.outcome) {
      case 'advanced':
        // A deferred length now known gives back the grant bytes held for the most it could have been.
        if (step.length && this.#upload.grantId && this.#upload.size > step.length.size) {
          await this.ctx.meta.releaseGrant(this.#upload.grantId, this.#upload.size - step.length.size, 0);
        }
        this.#upload = result.upload;
        this.#at = { chunksReceived: result.upload.chunksReceived, stagedBytes: result.upload.stagedBytes };
        if (step.length) this.#newLength = null;
        for (const c of chunks) {
          this.ctx.log.info({ uploadId: this.#upload.id, index: c.index, bytes: c.size, event: 'chunk', outcome: 'stored', protocol: this.#upload.protocol }, 'chunk ok');
        }
        return;
      case 'closed':
        throw closedUploadProblem({ id: this.#upload.id, state: result.state ?? 'aborted' });
      case 'claim-lost':
      case 'moved':
        throw takenOver(this.#upload.id);
    }
  }
}

function takenOver(uploadId: string): FerryError {
  return new FerryError('upload-locked', `Upload ${uploadId} was taken over by another request while this one stalled.`, { retryAfter: 1 });
}
