// Blobs in an S3 bucket: a Ferry upload is one S3 multipart upload (chunk i = part i + 1), a file the object it becomes.
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
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { MiB } from '../../protocol/index.js';
import type { BlobLimits, BlobStore, BlobStoreOptions, ChunkPlace, IncompleteBlob, ReadOptions } from '../types.js';
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
}

/** S3's multipart rules: every part but the last at least 5 MiB, none over 5 GiB, at most 10,000 parts. */
export const s3Limits: BlobLimits = { minChunkSize: 5 * MiB, maxChunkSize: 5 * 1024 * MiB, maxChunks: 10_000 };

/** Object metadata naming the size the upload was begun with: how a retried complete() checks what it finds. */
const sizeMetadata = 'ferry-size';

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

  constructor(options: S3BlobStoreOptions, client: S3Client) {
    this.#s3 = client;
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
          Metadata: { [sizeMetadata]: String(size) },
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
      return key;
    } catch (e) {
      // Completed before (a retry after a crash, or another node): the object is there, of its size.
      if (mayBeCompleted(e) && (await this.#assembled(key))) return key;
      throw s3Error('CompleteMultipartUpload', key, e);
    }
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
        page = await this.#s3.send(new ListMultipartUploadsCommand({ Bucket: this.#bucket, Prefix: this.#layout.uploadsPrefix, KeyMarker, UploadIdMarker }));
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
    try {
      await this.#s3.send(new AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: key, UploadId: uploadId }));
    } catch (e) {
      // Gone already (aborted, or completed: a finished object is never touched by an abort).
      if (!isGone(e)) throw s3Error('AbortMultipartUpload', key, e);
    }
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
