// Blobs in an S3 bucket: a Ferry upload is one S3 multipart upload (chunk i = part i + 1), a file the object it becomes.
// A stream upload's chunk that arrives across requests is staged as a plain object until it is whole.
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { FerryError, MiB } from '../../protocol/index.js';
import type { BlobLimits, BlobStore, BlobStoreOptions, ChunkPlace, IncompleteBlob, ReadOptions, StagedResult } from '../types.js';
import { drainStagedBody } from '../staged-body.js';
import { isBucketName } from '../locations.js';
import { createS3Client } from './client.js';
import { describeFailure, isAbort, isGone, mayBeCompleted, s3Error, s3Failure } from './errors.js';
import { S3Layout } from './layout.js';
import { partBody } from './part-body.js';
import { readBody } from './range-reader.js';

export interface S3BlobStoreOptions {
  bucket: string;
  /** Keys begin with it ('' or a folder such as "ferry/"; a missing trailing slash is added). */
  prefix?: string;
  /** For services other than AWS S3 (MinIO, Ceph RGW, R2): their URL. */
  endpoint?: string;
  region?: string;
  /** bucket in the path (http://host/bucket/key), as most non-AWS services want. */
  forcePathStyle?: boolean;
  /** Absent: the AWS SDK's default chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profiles, roles). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** How long a request's socket may stay silent before it fails (default 60 s). */
  idleTimeoutMs?: number;
  /** Most keys or uploads one listing request asks for (absent: the service's own, 1,000 on S3); tests make it small to cross pages. */
  listPageSize?: number;
}

/** S3's multipart rules: every part but the last at least 5 MiB, none over 5 GiB, at most 10,000 parts. */
export const s3Limits: BlobLimits = { minChunkSize: 5 * MiB, maxChunkSize: 5 * 1024 * MiB, maxChunks: 10_000 };

/** Object metadata naming the size the upload was begun with: how a retried complete() checks what it finds. */
const sizeMetadata = 'ferry-size';
/**
 * The size metadata of an upload begun with size 0: a stream upload whose length is deferred (any size
 * is its own), or an empty file, whose object a retried complete() then accepts at any size too.
 */
const deferredSize = 'deferred';
/** Staging objects deleted at once (one DeleteObject each) when an upload's are dropped. */
const stagingDeletesInFlight = 8;

export async function openS3BlobStore(options: S3BlobStoreOptions): Promise<BlobStore & { ping(): Promise<void> }> {
  if (!isBucketName(options.bucket)) {
    throw new Error(`${JSON.stringify(options.bucket)} is not an S3 bucket name (3-63 characters of a-z 0-9 . -).`);
  }
  return new S3BlobStore(options, createS3Client(options));
}

export class S3BlobStore implements BlobStore {
  readonly limits = s3Limits;
  readonly #s3: S3Client;
  readonly #bucket: string;
  readonly #layout: S3Layout;
  /** Where S3 is, for messages. */
  readonly #where: string;
  readonly #pageSize: number | undefined;

  constructor(options: S3BlobStoreOptions, client: S3Client) {
    this.#s3 = client;
    this.#pageSize = options.listPageSize;
    this.#bucket = options.bucket;
    this.#layout = new S3Layout(options.prefix);
    this.#where = options.endpoint ?? `AWS S3${options.region ? ` (${options.region})` : ''}`;
  }

  /**
   * Checks that the bucket is there and the credentials open it; throws an Error whose message says,
   * in one line, what is wrong (for start-up validation and /readyz).
   */
  async ping(): Promise<void> {
    try {
      await this.#s3.send(new HeadBucketCommand({ Bucket: this.#bucket }));
    } catch (e) {
      const f = s3Failure(e);
      let message: string;
      if (f.status === 404) message = `bucket ${this.#bucket} does not exist at ${this.#where}`;
      else if (f.status === 401 || f.status === 403) {
        message = `S3 refused the credentials for bucket ${this.#bucket} at ${this.#where} (HTTP ${f.status}: a wrong access key or secret, or no access to the bucket)`;
      } else if (f.name === 'CredentialsProviderError') {
        message = `no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or another source of the AWS default chain)`;
      } else if (f.status === undefined) message = `cannot reach S3 at ${this.#where}: ${describeFailure(e)}`;
      else message = `S3 at ${this.#where} failed to answer for bucket ${this.#bucket}: ${describeFailure(e)}`;
      throw new Error(message, { cause: e });
    }
  }

  async begin(uploadId: string, size: number, totalChunks: number): Promise<string> {
    const key = this.#layout.keyOf(uploadId);
    if (totalChunks > this.limits.maxChunks) throw new Error(`An S3 upload has at most ${this.limits.maxChunks} parts, not ${totalChunks}.`);
    try {
      const out = await this.#s3.send(
        new CreateMultipartUploadCommand({
          Bucket: this.#bucket,
          Key: key,
          ContentType: 'application/octet-stream',
          Metadata: { [sizeMetadata]: size === 0 ? deferredSize : String(size) },
        }),
      );
      if (!out.UploadId) throw new Error('S3 gave no UploadId');
      return this.#layout.handleOf({ key, uploadId: out.UploadId });
    } catch (e) {
      throw s3Error('CreateMultipartUpload', key, e);
    }
  }

  async putChunk(handle: string, place: ChunkPlace, body: AsyncIterable<Uint8Array>, options: BlobStoreOptions = {}): Promise<string> {
    checkPlace(place, this.limits.maxChunks);
    const { key, uploadId } = this.#layout.parseHandle(handle);
    return this.#uploadPart(key, uploadId, place, body, options);
  }

  /**
   * The new bytes are held in memory (at most place.length - have) until the body stops: S3 cannot
   * append. A whole chunk is then sent as its part, after the `have` bytes staged before (read back
   * from the staging object); a chunk still short is written as the staging object, those `have`
   * bytes followed by the new ones. The staging object stays after the part is sent (the caller may
   * still fail to record the step, and then continues from `have` again); complete() and abort()
   * delete them. A staging object may hold bytes past `have` (a step not recorded): only its first
   * `have` are ever read.
   */
  async stageChunk(handle: string, place: ChunkPlace, have: number, body: AsyncIterable<Uint8Array>, options: BlobStoreOptions = {}): Promise<StagedResult> {
    checkPlace(place, this.limits.maxChunks);
    checkHave(place, have);
    const { key, uploadId } = this.#layout.parseHandle(handle);
    const stagingKey = this.#layout.stagingKeyOf(key, place.index);
    options.signal?.throwIfAborted();
    const held: Uint8Array[] = [];
    // Cut part-way, what the body yielded before is kept.
    const { received, failed, failure } = await drainStagedBody(place, have, body, options.signal, (piece) => piece.byteLength > 0 && held.push(piece));
    // A writer that lost its right to the chunk (its signal aborted, e.g. while its body failed) writes
    // neither the staging object nor the part: another writer may own them now.
    options.signal?.throwIfAborted();
    const staged = have + received;
    const outcome = failed ? { failure } : {};
    if (staged === place.length) {
      const part = this.#stagedThen(stagingKey, have, held, options.signal);
      return { staged, receipt: await this.#uploadPart(key, uploadId, place, part, options), ...outcome };
    }
    // Nothing new: the staging object already begins with the `have` bytes.
    if (received > 0) {
      await this.#putStaging(stagingKey, staged, this.#stagedThen(stagingKey, have, held, options.signal), options.signal);
      await this.#checkStillOpen(key, uploadId, stagingKey);
    }
    return { staged, receipt: null, ...outcome };
  }

  async *readStaged(handle: string, place: ChunkPlace, length: number, options: BlobStoreOptions = {}): AsyncIterable<Uint8Array> {
    checkPlace(place, this.limits.maxChunks);
    if (!Number.isSafeInteger(length) || length < 0 || length > place.length) {
      throw new RangeError(`Cannot read ${length} staged bytes of chunk ${place.index} (${place.length} bytes).`);
    }
    const { key } = this.#layout.parseHandle(handle);
    options.signal?.throwIfAborted();
    if (length === 0) return;
    yield* this.#readObject(this.#layout.stagingKeyOf(key, place.index), 0, length, options);
  }

  /** Sends `body` as the part for chunk `place` (exactly place.length bytes); returns its ETag. */
  async #uploadPart(key: string, uploadId: string, place: ChunkPlace, body: AsyncIterable<Uint8Array>, options: BlobStoreOptions): Promise<string> {
    options.signal?.throwIfAborted();
    // Aborted by the caller's signal, or by the body failing: either way the request must stop.
    const stop = new AbortController();
    const onAbort = () => stop.abort(options.signal!.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const part = partBody(place, body, (error) => stop.abort(error));
    try {
      const out = await this.#s3.send(
        new UploadPartCommand({
          Bucket: this.#bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber: place.index + 1,
          ContentLength: place.length,
          // Checked by services that support it (AWS S3, recent Ceph and MinIO); RGW 16 ignores it.
          ...(options.sha256 !== undefined && { ChecksumSHA256: options.sha256 }),
          Body: part.stream,
        }),
        { abortSignal: stop.signal },
      );
      // S3 answers once it has place.length bytes; the body must also end there, with nothing more.
      await part.settled;
      if (!out.ETag) throw new Error(`S3 UploadPart ${key} part ${place.index + 1} gave no ETag.`);
      return out.ETag;
    } catch (e) {
      // S3 may answer (an error) before the whole body is sent: the half-sent request must not linger.
      stop.abort(e);
      if (part.error !== undefined) throw part.error;
      if (options.signal?.aborted) throw options.signal.reason;
      throw s3Error(`UploadPart (part ${place.index + 1})`, key, e);
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      // Ends the source (its return()) if S3 stopped reading it early.
      part.stream.destroy();
    }
  }

  /** Writes the staging object `stagingKey`: exactly `length` bytes from `body`. */
  async #putStaging(stagingKey: string, length: number, body: AsyncIterable<Uint8Array>, signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    const stop = new AbortController();
    const onAbort = () => stop.abort(signal!.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const object = partBody({ index: 0, offset: 0, length }, body, (error) => stop.abort(error));
    try {
      await this.#s3.send(
        new PutObjectCommand({ Bucket: this.#bucket, Key: stagingKey, ContentLength: length, ContentType: 'application/octet-stream', Body: object.stream }),
        { abortSignal: stop.signal },
      );
      await object.settled;
    } catch (e) {
      stop.abort(e);
      if (object.error !== undefined) throw object.error;
      if (signal?.aborted) throw signal.reason;
      throw s3Error('PutObject (staged chunk)', stagingKey, e);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      object.stream.destroy();
    }
  }

  /**
   * A staging object written while the upload was completed or aborted would be left for ever (their
   * clean-up may have listed the staging objects before it was there). Asked after writing it: an
   * upload still open now is completed or aborted later, and that clean-up finds the object; one gone
   * already has it deleted here, and the call fails as an UploadPart to it would. Asked with
   * ListMultipartUploads (s3:ListBucketMultipartUploads, which listIncomplete needs anyway), not
   * ListParts, which would need s3:ListMultipartUploadParts as well.
   */
  async #checkStillOpen(key: string, uploadId: string, stagingKey: string): Promise<void> {
    let open: boolean;
    try {
      open = await this.#inProgress(key, uploadId);
    } catch (e) {
      throw s3Error('ListMultipartUploads', key, e);
    }
    if (open) return;
    await this.#deleteStaging(stagingKey);
    throw new Error(`S3 multipart upload ${key} is no longer in progress (completed or aborted meanwhile): the staged chunk was not kept.`);
  }

  /** Whether S3 lists the multipart upload `uploadId` at `key` as in progress. */
  async #inProgress(key: string, uploadId: string): Promise<boolean> {
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    for (;;) {
      const page = await this.#s3.send(new ListMultipartUploadsCommand({ Bucket: this.#bucket, Prefix: key, KeyMarker, UploadIdMarker, MaxUploads: this.#pageSize }));
      for (const upload of page.Uploads ?? []) {
        if (upload.Key === key && upload.UploadId === uploadId) return true;
        // Listed by key: past the uploads at `key` (longer keys sharing the prefix come after them).
        if (upload.Key !== key) return false;
      }
      if (!page.IsTruncated) return false;
      if (page.NextKeyMarker === KeyMarker && page.NextUploadIdMarker === UploadIdMarker) {
        throw new Error(`S3 ListMultipartUploads under ${key} did not advance past ${KeyMarker}.`);
      }
      KeyMarker = page.NextKeyMarker;
      UploadIdMarker = page.NextUploadIdMarker;
    }
  }

  /** The first `have` bytes of the staging object, then `held`. */
  async *#stagedThen(stagingKey: string, have: number, held: Uint8Array[], signal: AbortSignal | undefined): AsyncGenerator<Uint8Array> {
    if (have > 0) yield* this.#readObject(stagingKey, 0, have, signal ? { signal } : {});
    yield* held;
  }

  async complete(handle: string, _fileId: string, receipts: string[]): Promise<string> {
    const { key, uploadId } = this.#layout.parseHandle(handle);
    try {
      await this.#s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.#bucket,
          Key: key,
          UploadId: uploadId,
          // Exactly the recorded parts with the ETags recorded for them: S3 refuses the completion if a
          // part holds other bytes (InvalidPart) rather than assemble a file that matches no chunk.
          MultipartUpload: { Parts: receipts.map((ETag, index) => ({ PartNumber: index + 1, ETag })) },
        }),
      );
      // The response's ETag is not used: RGW 16 answers an empty one.
    } catch (e) {
      // Completed before (a retry after a crash, or another node): the object is there, of its size.
      if (!mayBeCompleted(e) || !(await this.#assembled(key))) throw s3Error('CompleteMultipartUpload', key, e);
    }
    // After the object is there (a crash in between: the retried complete finds it and drops them then).
    // Best effort: the file is assembled, and an upload must never stay 'completing' because staging
    // objects could not be deleted (the store has no logger; what is left costs storage, not bytes of
    // any file). complete() stays idempotent: called again, it finds the object and tries once more.
    await this.#dropStaging(key).catch(() => {});
    return key;
  }

  fileRefOf(handle: string, _fileId: string): string {
    return this.#layout.parseHandle(handle).key;
  }

  async *read(fileRef: string, start: number, end: number, options: ReadOptions = {}): AsyncIterable<Uint8Array> {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
      throw new RangeError(`Invalid byte range [${start}, ${end}).`);
    }
    const key = this.#layout.checkKey(fileRef);
    options.signal?.throwIfAborted();
    if (start === end) {
      // An empty range of a missing file is still an error (and S3 has no empty range to ask for).
      await this.#head(key, options.signal);
      return;
    }
    yield* this.#readObject(key, start, end, options);
  }

  /** Bytes [start, end) of the object at `key` (start < end). */
  async *#readObject(key: string, start: number, end: number, options: ReadOptions): AsyncGenerator<Uint8Array> {
    let body: Readable;
    try {
      const out = await this.#s3.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key, Range: `bytes=${start}-${end - 1}` }), {
        abortSignal: options.signal,
      });
      body = out.Body as Readable;
    } catch (e) {
      if (options.signal?.aborted) throw options.signal.reason;
      throw s3Error(`GetObject (bytes ${start}-${end - 1})`, key, e);
    }
    yield* readBody(body, end - start, options.buffers, options.signal);
  }

  async listIncomplete(): Promise<IncompleteBlob[]> {
    const found: IncompleteBlob[] = [];
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    for (;;) {
      let page;
      try {
        page = await this.#s3.send(new ListMultipartUploadsCommand({ Bucket: this.#bucket, Prefix: this.#layout.uploadsPrefix, KeyMarker, UploadIdMarker, MaxUploads: this.#pageSize }));
      } catch (e) {
        throw s3Error('ListMultipartUploads', this.#layout.uploadsPrefix, e);
      }
      for (const upload of page.Uploads ?? []) {
        const ferryId = upload.Key ? this.#layout.uploadIdOf(upload.Key) : null;
        if (!ferryId || !upload.UploadId) continue; // not one this store began
        found.push({
          uploadId: ferryId,
          handle: this.#layout.handleOf({ key: upload.Key!, uploadId: upload.UploadId }),
          startedAt: upload.Initiated?.getTime() ?? 0,
        });
      }
      if (!page.IsTruncated) return found;
      if (page.NextKeyMarker === KeyMarker && page.NextUploadIdMarker === UploadIdMarker) {
        throw new Error(`S3 ListMultipartUploads under ${this.#layout.uploadsPrefix} did not advance past ${KeyMarker}.`);
      }
      KeyMarker = page.NextKeyMarker;
      UploadIdMarker = page.NextUploadIdMarker;
    }
  }

  async abort(handle: string): Promise<void> {
    const { key, uploadId } = this.#layout.parseHandle(handle);
    // Before the upload too: a crash right after AbortMultipartUpload would otherwise leave them for
    // ever (recovery finds only multipart uploads). Best effort: the drop after the abort is the one
    // that must succeed, and a missing bucket is reported as the abort's failure.
    await this.#dropStaging(key).catch(() => {});
    try {
      await this.#s3.send(new AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: key, UploadId: uploadId }));
    } catch (e) {
      // Gone already (aborted, or completed: a finished object is never touched by an abort).
      if (!isGone(e)) throw s3Error('AbortMultipartUpload', key, e);
    }
    // After the upload as well: a chunk staged meanwhile (its own check then finds the upload gone and
    // deletes it too). A missing bucket fails above, not as a listing that found nothing.
    await this.#dropStaging(key);
  }

  async deleteFile(fileRef: string): Promise<void> {
    const key = this.#layout.checkKey(fileRef);
    try {
      await this.#s3.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: key }));
    } catch (e) {
      if (!isGone(e)) throw s3Error('DeleteObject', key, e);
    }
  }

  /** A bucket has no free space to speak of. */
  async freeSpace(): Promise<null> {
    return null;
  }

  async close(): Promise<void> {
    this.#s3.destroy();
  }

  /**
   * Deletes every staging object of the upload at `key` (none: nothing to do), one DeleteObject each:
   * an upload has few, and DeleteObjects (multi-delete) is refused by some S3-compatible services
   * (MinIO asks recent SDKs for a Content-MD5 they no longer send).
   */
  async #dropStaging(key: string): Promise<void> {
    const prefix = this.#layout.stagingPrefixOf(key);
    let ContinuationToken: string | undefined;
    for (;;) {
      let page;
      try {
        page = await this.#s3.send(new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: prefix, ContinuationToken, MaxKeys: this.#pageSize }));
      } catch (e) {
        throw s3Error('ListObjectsV2', prefix, e);
      }
      const keys = (page.Contents ?? []).flatMap((o) => (o.Key ? [o.Key] : []));
      for (let i = 0; i < keys.length; i += stagingDeletesInFlight) {
        const outcomes = await Promise.allSettled(keys.slice(i, i + stagingDeletesInFlight).map((k) => this.#deleteStaging(k)));
        const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
        if (failed) throw failed.reason;
      }
      if (!page.IsTruncated) return;
      if (!page.NextContinuationToken || page.NextContinuationToken === ContinuationToken) {
        throw new Error(`S3 ListObjectsV2 under ${prefix} did not advance.`);
      }
      ContinuationToken = page.NextContinuationToken;
    }
  }

  /** Deletes one staging object (gone already: nothing to do). */
  async #deleteStaging(stagingKey: string): Promise<void> {
    try {
      await this.#s3.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: stagingKey }));
    } catch (e) {
      if (!isGone(e)) throw s3Error('DeleteObject (staged chunk)', stagingKey, e);
    }
  }

  /** Whether `key` is an assembled object of the size its upload was begun with. */
  async #assembled(key: string): Promise<boolean> {
    let head;
    try {
      head = await this.#s3.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: key }));
    } catch (e) {
      if (isGone(e)) return false;
      throw s3Error('HeadObject', key, e);
    }
    // Every object this store assembles carries the size it was begun with; anything else is not ours to claim.
    const declared = head.Metadata?.[sizeMetadata];
    if (declared === deferredSize) return true; // begun before its length was known
    return declared !== undefined && Number(declared) === head.ContentLength;
  }

  async #head(key: string, signal: AbortSignal | undefined): Promise<void> {
    try {
      await this.#s3.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: key }), { abortSignal: signal });
    } catch (e) {
      if (isAbort(e) && signal?.aborted) throw signal.reason;
      throw s3Error('HeadObject', key, e);
    }
  }
}

function checkPlace(place: ChunkPlace, maxParts: number): void {
  const ok = [place.index, place.offset, place.length].every((n) => Number.isSafeInteger(n) && n >= 0);
  if (!ok || place.index >= maxParts) throw new RangeError(`Invalid chunk place ${JSON.stringify(place)}.`);
}

function checkHave(place: ChunkPlace, have: number): void {
  if (!Number.isSafeInteger(have) || have < 0 || have > place.length) {
    throw new RangeError(`Invalid staged byte count ${have} for chunk ${place.index} (${place.length} bytes).`);
  }
}
