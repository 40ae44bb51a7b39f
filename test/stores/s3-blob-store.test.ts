// The S3 blob store against a real S3 service (Ceph RGW in CI): the shared contract, its layout, S3's own rules, ping's messages.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import {
  DeleteBucketPolicyCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { FerryError, MiB } from '../../src/protocol/index.js';
import type { ServerConfig } from '../../src/server/config.js';
import { chunkLimits } from '../../src/server/chunk-limits.js';
import { openS3BlobStore } from '../../src/stores/s3/blob-store.js';
import type { BlobStore } from '../../src/stores/types.js';
import { closedPort } from '../helpers/ports.js';
import { dropBuckets, freshBucket, s3Required, s3StoreOptions, testS3, testS3Client } from '../helpers/s3.js';
import { collect, describeBlobStoreContract, failingAfter, pieces } from './blob-store-contract.js';

const part = 5 * MiB;
const opened: BlobStore[] = [];

async function openStore(prefix?: string, bucket?: string, listPageSize?: number) {
  const store = await openS3BlobStore({ ...s3StoreOptions(bucket ?? (await freshBucket()), prefix), ...(listPageSize && { listPageSize }) });
  opened.push(store);
  return store;
}

// Dropping every bucket (their objects and multipart uploads, one by one) takes a while.
afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  if (!s3Required) await dropBuckets();
}, 120_000);

/**
 * An S3-compatible service in front of the test one that refuses DeleteObjects (POST ?delete) as MinIO
 * does when a recent SDK sends no Content-MD5; every other request passes through unchanged.
 */
async function refusingMultiDelete(): Promise<{ endpoint: string; refused(): number; close(): Promise<void> }> {
  const target = new URL(testS3()!.endpoint);
  let refused = 0;
  const server = createHttpServer((req, res) => {
    if (req.method === 'POST' && /[?&]delete(=|&|$)/.test(req.url ?? '')) {
      refused++;
      req.resume();
      res.writeHead(400, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>MissingContentMD5</Code><Message>Missing required header for this request: Content-Md5.</Message></Error>');
      return;
    }
    const upstream = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', (e) => res.destroy(e));
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    refused: () => refused,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => null,
    (e: unknown) => e as Error,
  );
  expect(outcome, 'expected a rejection').not.toBeNull();
  return outcome!;
}

describe.skipIf(s3Required)('S3 blob store', () => {
  // A fresh bucket per store; with a prefix too, as operators share buckets.
  describeBlobStoreContract('s3', () => openStore());
  describeBlobStoreContract('s3 under a prefix', () => openStore('ferry/blobs'));

  it('keeps an upload in progress as a multipart upload at <prefix>uploads/<id>, and the finished file as the object at the same key', async () => {
    const bucket = await freshBucket();
    const store = await openStore('tenant-a', bucket);
    const s3 = testS3Client();
    const uploadId = randomUUID();
    const data = randomBytes(part + 100);
    const handle = await store.begin(uploadId, data.byteLength, 2);
    const key = `tenant-a/uploads/${uploadId}`;
    expect(JSON.parse(handle)).toMatchObject({ key });
    expect(store.fileRefOf(handle, randomUUID())).toBe(key);

    const receipts = [
      await store.putChunk(handle, { index: 0, offset: 0, length: part }, pieces(data.subarray(0, part))),
      await store.putChunk(handle, { index: 1, offset: part, length: 100 }, pieces(data.subarray(part))),
    ];
    expect(receipts.every((r) => /^"[0-9a-f]{32}"$/.test(r))).toBe(true); // the parts' ETags
    const inProgress = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    expect(inProgress.Uploads?.map((u) => u.Key)).toEqual([key]);
    expect((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).KeyCount).toBe(0);

    expect(await store.complete(handle, randomUUID(), receipts)).toBe(key);
    expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).toEqual([]);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(head.ContentLength).toBe(data.byteLength);
    expect(head.Metadata?.['ferry-size']).toBe(String(data.byteLength)); // what a retried complete checks
  });

  it('declares S3 limits, and the service itself refuses a part under 5 MiB that is not the last', async () => {
    const store = await openStore();
    expect(store.limits).toEqual({ minChunkSize: 5 * MiB, maxChunkSize: 5 * 1024 * MiB, maxChunks: 10_000 });
    const data = randomBytes(3000);
    const handle = await store.begin(randomUUID(), data.byteLength, 3);
    const receipts: string[] = [];
    for (let i = 0; i < 3; i++) {
      receipts.push(await store.putChunk(handle, { index: i, offset: i * 1000, length: 1000 }, pieces(data.subarray(i * 1000, (i + 1) * 1000))));
    }
    const err = await rejection(store.complete(handle, randomUUID(), receipts));
    expect(err.message).toMatch(/smaller than the service's minimum part size.*EntityTooSmall \(HTTP 400\)/);
    await store.abort(handle);
  });

  it('keeps the server’s chunk sizes within S3’s 5 GiB part limit', async () => {
    const store = await openStore();
    const config = { minChunkSize: MiB, defaultChunkSize: 8 * MiB, maxChunkSize: 16 * 1024 * MiB, maxChunks: 100_000 } as ServerConfig;
    expect(chunkLimits(config, store)).toEqual({ minChunkSize: 5 * MiB, defaultChunkSize: 8 * MiB, maxChunkSize: 5 * 1024 * MiB, maxChunks: 10_000 });
    expect(chunkLimits({ ...config, defaultChunkSize: 8 * 1024 * MiB }, store).defaultChunkSize).toBe(5 * 1024 * MiB);
    expect(() => chunkLimits({ ...config, minChunkSize: 6 * 1024 * MiB }, store)).toThrow(/above the blob store's largest/);
  });

  it('refuses to complete with a receipt that is not the stored part (InvalidPart): it never assembles other bytes', async () => {
    const store = await openStore();
    const data = randomBytes(part + 10);
    const handle = await store.begin(randomUUID(), data.byteLength, 2);
    const first = await store.putChunk(handle, { index: 0, offset: 0, length: part }, pieces(data.subarray(0, part)));
    // A late writer replaces part 2's bytes after another's receipt was recorded.
    const recorded = await store.putChunk(handle, { index: 1, offset: part, length: 10 }, pieces(data.subarray(part)));
    await store.putChunk(handle, { index: 1, offset: part, length: 10 }, pieces(randomBytes(10)));
    const err = await rejection(store.complete(handle, randomUUID(), [first, recorded]));
    expect(err.message).toMatch(/not the ones recorded.*InvalidPart/);
    await store.abort(handle);
  });

  it('gives the same reference when complete is called again, by this store or another on the same bucket', async () => {
    const bucket = await freshBucket();
    const [a, b] = [await openStore('p', bucket), await openStore('p', bucket)];
    const data = randomBytes(part + 7);
    const handle = await a.begin(randomUUID(), data.byteLength, 2);
    const receipts = [
      await a.putChunk(handle, { index: 0, offset: 0, length: part }, pieces(data.subarray(0, part))),
      await b.putChunk(handle, { index: 1, offset: part, length: 7 }, pieces(data.subarray(part))),
    ];
    const ref = await a.complete(handle, randomUUID(), receipts);
    expect(await a.complete(handle, randomUUID(), receipts)).toBe(ref);
    expect(await b.complete(handle, randomUUID(), receipts)).toBe(ref);
    expect((await collect(b.read(ref, 0, data.byteLength))).bytes.equals(data)).toBe(true);
  });

  it('completes again when S3 has forgotten the multipart upload but holds its object, only at the size begun', async () => {
    // AWS forgets a completed upload (NoSuchUpload); RGW answers 500 to a completion it does not know.
    const bucket = await freshBucket();
    const store = await openStore('', bucket);
    const s3 = testS3Client();
    const uploadId = randomUUID();
    const key = `uploads/${uploadId}`;
    const forgotten = JSON.stringify({ key, uploadId: '2~forgotten' });
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.alloc(10), Metadata: { 'ferry-size': '10' } }));
    expect(await store.complete(forgotten, randomUUID(), ['"x"'])).toBe(key);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.alloc(9), Metadata: { 'ferry-size': '10' } }));
    expect((await rejection(store.complete(forgotten, randomUUID(), ['"x"']))).message).toMatch(/CompleteMultipartUpload uploads\/[\w-]+ failed: InternalError \(HTTP 500\)/);
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    await expect(store.complete(forgotten, randomUUID(), ['"x"'])).rejects.toThrow(/CompleteMultipartUpload/);
  });

  it('lists a begun upload with its handle and start time, and not one completed or aborted', async () => {
    const store = await openStore('listing');
    const before = Date.now();
    const begun = randomUUID();
    const handle = await store.begin(begun, 10, 1);
    const after = Date.now();

    const done = await store.begin(randomUUID(), 10, 1);
    const receipt = await store.putChunk(done, { index: 0, offset: 0, length: 10 }, pieces(randomBytes(10)));
    await store.complete(done, randomUUID(), [receipt]);
    const aborted = await store.begin(randomUUID(), 10, 1);
    await store.abort(aborted);

    const listed = await store.listIncomplete();
    expect(listed.map((l) => l.uploadId)).toEqual([begun]);
    expect(listed[0]!.handle).toBe(handle); // what recovery compares with the upload row
    // S3 keeps whole seconds (RGW: milliseconds); both clocks are this machine's.
    expect(listed[0]!.startedAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 - 2000);
    expect(listed[0]!.startedAt).toBeLessThanOrEqual(after + 2000);
  });

  it('lists every incomplete upload across pages, and only those under its own prefix', async () => {
    const bucket = await freshBucket();
    // Listings of 3 at a time: 8 uploads take three pages (as 1,003 would with S3's 1,000).
    const mine = await openStore('mine', bucket, 3);
    const other = await openStore('mine-too', bucket, 3); // a prefix that extends this one's
    const ids = Array.from({ length: 8 }, () => randomUUID());
    await Promise.all(ids.map((id) => mine.begin(id, 1, 1)));
    await other.begin(randomUUID(), 1, 1);
    const listed = await mine.listIncomplete();
    expect(listed.map((l) => l.uploadId).sort()).toEqual([...ids].sort());
    expect((await other.listIncomplete()).length).toBe(1);
  });

  describe('staged chunks (stream uploads)', () => {
    async function keysUnder(bucket: string, prefix = ''): Promise<string[]> {
      const keys: string[] = [];
      let ContinuationToken: string | undefined;
      do {
        const page = await testS3Client().send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken }));
        keys.push(...(page.Contents ?? []).map((o) => o.Key!));
        ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (ContinuationToken);
      return keys.sort();
    }

    it('keeps an unfinished chunk as the object <prefix>staged/<id>/<index>, after its part is sent too, never listed as an upload, until complete', async () => {
      const bucket = await freshBucket();
      const store = await openStore('tenant-s', bucket);
      const uploadId = randomUUID();
      const data = randomBytes(part + 100);
      const handle = await store.begin(uploadId, data.byteLength, 2);
      const [first, last] = [
        { index: 0, offset: 0, length: part },
        { index: 1, offset: part, length: 100 },
      ];
      expect(await store.stageChunk(handle, first, 0, pieces(data.subarray(0, MiB)))).toEqual({ staged: MiB, receipt: null });
      expect(await store.stageChunk(handle, last, 0, pieces(data.subarray(part, part + 40)))).toEqual({ staged: 40, receipt: null });
      const staged = [`tenant-s/staged/${uploadId}/0`, `tenant-s/staged/${uploadId}/1`];
      expect(await keysUnder(bucket)).toEqual(staged);
      expect((await store.listIncomplete()).map((l) => l.uploadId)).toEqual([uploadId]);
      const head = await testS3Client().send(new HeadObjectCommand({ Bucket: bucket, Key: staged[0] }));
      expect(head.ContentLength).toBe(MiB);

      const r0 = await store.stageChunk(handle, first, MiB, pieces(data.subarray(MiB, part)));
      expect(r0.receipt).toMatch(/^"[0-9a-f]{32}"$/); // the part's ETag, as putChunk gives
      const r1 = await store.stageChunk(handle, last, 40, pieces(data.subarray(part + 40)));
      // The metadata may still say the chunk is unfinished (its step refused): its staged bytes stay.
      expect(await keysUnder(bucket)).toEqual(staged);
      expect((await collect(store.readStaged(handle, first, MiB))).bytes.equals(data.subarray(0, MiB))).toBe(true);

      const ref = await store.complete(handle, randomUUID(), [r0.receipt!, r1.receipt!]);
      expect(await keysUnder(bucket)).toEqual([`tenant-s/uploads/${uploadId}`]);
      expect((await collect(store.read(ref, 0, data.byteLength))).bytes.equals(data)).toBe(true);
      // A staged object is never a file: not readable nor deletable by reference.
      await expect(collect(store.read(staged[0]!, 0, 1))).rejects.toThrow(/not an object of this store/);
    });

    it('writes the staging object of a chunk cut part-way with the bytes that arrived, and stages nothing for a body with none', async () => {
      const bucket = await freshBucket();
      const store = await openStore('', bucket);
      const uploadId = randomUUID();
      const handle = await store.begin(uploadId, part, 1);
      const place = { index: 0, offset: 0, length: part };
      const boom = new Error('socket hang up');
      expect(await store.stageChunk(handle, place, 0, failingAfter(new Uint8Array(0), boom))).toEqual({ staged: 0, receipt: null, failure: boom });
      expect(await keysUnder(bucket)).toEqual([]);
      const data = randomBytes(3 * MiB);
      expect(await store.stageChunk(handle, place, 0, failingAfter(data, boom))).toEqual({ staged: 3 * MiB, receipt: null, failure: boom });
      expect(await keysUnder(bucket)).toEqual([`staged/${uploadId}/0`]);
      expect((await collect(store.readStaged(handle, place, 3 * MiB))).bytes.equals(data)).toBe(true);
      await store.abort(handle);
    });

    it('deletes every staging object of an upload on abort, across listing pages, and no other upload’s', async () => {
      const bucket = await freshBucket();
      const store = await openStore('p', bucket, 3); // listings of 3 at a time: several pages
      const [gone, kept] = [randomUUID(), randomUUID()];
      const handle = await store.begin(gone, 0, 2000);
      const other = await store.begin(kept, 0, 2000);
      await store.stageChunk(handle, { index: 0, offset: 0, length: part }, 0, pieces(randomBytes(1)));
      await store.stageChunk(other, { index: 0, offset: 0, length: part }, 0, pieces(randomBytes(1)));
      // More staged chunks than a page holds, put in place directly (quicker).
      const indexes = Array.from({ length: 9 }, (_, i) => i + 1);
      await Promise.all(indexes.map((index) => testS3Client().send(new PutObjectCommand({ Bucket: bucket, Key: `p/staged/${gone}/${index}`, Body: 'x' }))));
      expect((await keysUnder(bucket, `p/staged/${gone}/`)).length).toBe(10);
      await store.abort(handle);
      expect(await keysUnder(bucket)).toEqual([`p/staged/${kept}/0`]);
      await store.abort(handle); // gone already: no error
      await store.abort(other);
      expect(await keysUnder(bucket)).toEqual([]);
    });

    it('fails staging into an upload completed or aborted meanwhile, and leaves no staging object behind', async () => {
      const bucket = await freshBucket();
      const store = await openStore('', bucket);
      const handle = await store.begin(randomUUID(), 10, 1);
      await store.abort(handle);
      const place = { index: 0, offset: 0, length: 10 };
      expect((await rejection(store.stageChunk(handle, place, 0, pieces(randomBytes(4))))).message).toMatch(/multipart upload uploads\/[\w-]+ is no longer in progress/);
      expect((await rejection(store.stageChunk(handle, place, 0, pieces(randomBytes(10))))).message).toMatch(/UploadPart \(part 1\) uploads\/[\w-]+ failed: NoSuch/);
      const done = await store.begin(randomUUID(), 10, 1);
      const receipt = await store.putChunk(done, place, pieces(randomBytes(10)));
      const ref = await store.complete(done, randomUUID(), [receipt]);
      await expect(store.stageChunk(done, place, 0, pieces(randomBytes(4)))).rejects.toThrow(/no longer in progress/);
      expect(await keysUnder(bucket)).toEqual([ref]);
    });

    it.each([100, 1])('completes an upload begun with size 0 (%i chunks) again after a crash, whatever size it became', async (totalChunks) => {
      const bucket = await freshBucket();
      const store = await openStore('', bucket);
      const handle = await store.begin(randomUUID(), 0, totalChunks);
      const data = randomBytes(777);
      const { receipt } = await store.stageChunk(handle, { index: 0, offset: 0, length: 777 }, 0, pieces(data));
      const fileId = randomUUID();
      const ref = await store.complete(handle, fileId, [receipt!]);
      const head = await testS3Client().send(new HeadObjectCommand({ Bucket: bucket, Key: ref }));
      expect(head.Metadata?.['ferry-size']).toBe('deferred');
      expect(await store.complete(handle, fileId, [receipt!])).toBe(ref);
      expect((await collect(store.read(ref, 0, 777))).bytes.equals(data)).toBe(true);
    });

    it('writes neither the staging object nor the part once its signal is aborted', async () => {
      const bucket = await freshBucket();
      const store = await openStore('', bucket);
      const uploadId = randomUUID();
      const handle = await store.begin(uploadId, part + 10, 2);
      const { key, uploadId: s3UploadId } = JSON.parse(handle) as { key: string; uploadId: string };
      const [first, last] = [
        { index: 0, offset: 0, length: part },
        { index: 1, offset: part, length: 10 },
      ];
      await store.stageChunk(handle, first, 0, pieces(randomBytes(MiB)));
      // [place, have, bytes the body yields before the writer loses the upload and the body fails]
      const cases: [typeof first, number, number][] = [
        [first, MiB, MiB],
        [first, MiB, part - MiB],
        [last, 0, 4],
        [last, 0, 10],
      ];
      for (const [place, have, rest] of cases) {
        const controller = new AbortController();
        const lost = new Error('the writer lost its lease');
        async function* body(): AsyncGenerator<Uint8Array> {
          yield* pieces(randomBytes(rest));
          controller.abort(lost);
          throw lost;
        }
        await expect(store.stageChunk(handle, place, have, body(), { signal: controller.signal })).rejects.toBe(lost);
        expect(await keysUnder(bucket, 'staged/')).toEqual([`staged/${uploadId}/0`]);
        const head = await testS3Client().send(new HeadObjectCommand({ Bucket: bucket, Key: `staged/${uploadId}/0` }));
        expect(head.ContentLength).toBe(MiB);
        expect((await testS3Client().send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: s3UploadId }))).Parts ?? []).toEqual([]);
      }
      await store.abort(handle);
    });

    describe('without s3:ListMultipartUploadParts, which docs/operations.md does not ask for', () => {
      /** A bucket policy denying `actions` to everyone, the bucket's owner too (RGW enforces it on the owner). */
      async function deny(bucket: string, actions: string[]): Promise<void> {
        const Statement = [{ Effect: 'Deny', Principal: '*', Action: actions, Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`] }];
        await testS3Client().send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify({ Version: '2012-10-17', Statement }) }));
      }
      const undocumented = ['s3:ListMultipartUploadParts'];

      it('is refused ListParts', async () => {
        const bucket = await freshBucket();
        const store = await openStore('', bucket);
        const handle = await store.begin(randomUUID(), 10, 1);
        const { key, uploadId } = JSON.parse(handle) as { key: string; uploadId: string };
        await deny(bucket, undocumented);
        try {
          const err = await rejection(testS3Client().send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId })));
          expect(err.name).toBe('AccessDenied');
        } finally {
          await testS3Client().send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
        }
        await store.abort(handle);
      });

      it('stages, continues, completes and aborts stream uploads, and finds an upload gone', async () => {
        const bucket = await freshBucket();
        const store = await openStore('p', bucket);
        await deny(bucket, undocumented);
        try {
          await store.ping();
          const data = randomBytes(part + 100);
          const handle = await store.begin(randomUUID(), data.byteLength, 2);
          const [first, last] = [
            { index: 0, offset: 0, length: part },
            { index: 1, offset: part, length: 100 },
          ];
          await store.stageChunk(handle, first, 0, pieces(data.subarray(0, MiB)));
          expect((await collect(store.readStaged(handle, first, MiB))).bytes.equals(data.subarray(0, MiB))).toBe(true);
          const r0 = (await store.stageChunk(handle, first, MiB, pieces(data.subarray(MiB, part)))).receipt!;
          await store.stageChunk(handle, last, 0, pieces(data.subarray(part, part + 40)));
          const r1 = (await store.stageChunk(handle, last, 40, pieces(data.subarray(part + 40)))).receipt!;
          expect((await store.listIncomplete()).length).toBe(1);
          const ref = await store.complete(handle, randomUUID(), [r0, r1]);
          expect((await collect(store.read(ref, 0, data.byteLength))).bytes.equals(data)).toBe(true);

          const dropped = await store.begin(randomUUID(), part, 1);
          await store.stageChunk(dropped, first, 0, pieces(randomBytes(1000)));
          await store.abort(dropped);
          await expect(store.stageChunk(dropped, first, 0, pieces(randomBytes(1000)))).rejects.toThrow(/no longer in progress/);
          await store.deleteFile(ref);
          expect(await keysUnder(bucket)).toEqual([]);
        } finally {
          await testS3Client().send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
        }
      });
    });

    it('completes, and completes again, when its staging objects cannot be deleted: they are left, the file is there', async () => {
      const bucket = await freshBucket();
      const store = await openStore('', bucket);
      const uploadId = randomUUID();
      const data = randomBytes(part + 10);
      const handle = await store.begin(uploadId, data.byteLength, 2);
      const r0 = (await store.stageChunk(handle, { index: 0, offset: 0, length: part }, 0, pieces(data.subarray(0, part)))).receipt!;
      await store.stageChunk(handle, { index: 1, offset: part, length: 10 }, 0, pieces(data.subarray(part, part + 4)));
      const r1 = (await store.stageChunk(handle, { index: 1, offset: part, length: 10 }, 4, pieces(data.subarray(part + 4)))).receipt!;
      const Statement = [{ Effect: 'Deny', Principal: '*', Action: ['s3:DeleteObject'], Resource: [`arn:aws:s3:::${bucket}/staged/*`] }];
      await testS3Client().send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify({ Version: '2012-10-17', Statement }) }));
      try {
        const fileId = randomUUID();
        const ref = await store.complete(handle, fileId, [r0, r1]);
        expect(await store.complete(handle, fileId, [r0, r1])).toBe(ref);
        expect((await collect(store.read(ref, 0, data.byteLength))).bytes.equals(data)).toBe(true);
        expect(await keysUnder(bucket, 'staged/')).toEqual([`staged/${uploadId}/1`]);
      } finally {
        await testS3Client().send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
      }
      // An abort later (the upload finished) still clears them.
      await store.abort(handle);
      expect(await keysUnder(bucket, 'staged/')).toEqual([]);
    });

    it('deletes the staging objects before aborting the multipart upload, so a failure in between leaves none', async () => {
      const bucket = await freshBucket();
      const store = await openStore('', bucket);
      const uploadId = randomUUID();
      const handle = await store.begin(uploadId, part + 10, 2);
      await store.stageChunk(handle, { index: 0, offset: 0, length: part }, 0, pieces(randomBytes(1000)));
      await store.stageChunk(handle, { index: 1, offset: part, length: 10 }, 0, pieces(randomBytes(3)));
      const Statement = [{ Effect: 'Deny', Principal: '*', Action: ['s3:AbortMultipartUpload'], Resource: [`arn:aws:s3:::${bucket}/*`] }];
      await testS3Client().send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify({ Version: '2012-10-17', Statement }) }));
      try {
        expect((await rejection(store.abort(handle))).message).toMatch(/AbortMultipartUpload .*AccessDenied \(HTTP 403\)/);
        expect(await keysUnder(bucket, 'staged/')).toEqual([]);
      } finally {
        await testS3Client().send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
      }
      await store.abort(handle);
      expect((await store.listIncomplete()).map((l) => l.uploadId)).toEqual([]);
    });

    it('drops staging objects on a service that refuses DeleteObjects (as MinIO does with recent SDKs)', async () => {
      const proxy = await refusingMultiDelete();
      try {
        const bucket = await freshBucket();
        const store = await openS3BlobStore({ ...s3StoreOptions(bucket), endpoint: proxy.endpoint });
        opened.push(store);
        const place = { index: 0, offset: 0, length: 10 };
        const aborted = await store.begin(randomUUID(), 10, 1);
        await store.stageChunk(aborted, place, 0, pieces(randomBytes(4)));
        await store.abort(aborted);
        const done = await store.begin(randomUUID(), 10, 1);
        await store.stageChunk(done, place, 0, pieces(randomBytes(4)));
        const { receipt } = await store.stageChunk(done, place, 4, pieces(randomBytes(6)));
        const ref = await store.complete(done, randomUUID(), [receipt!]);
        expect(await keysUnder(bucket)).toEqual([ref]);
        expect(proxy.refused()).toBe(0); // never asked
      } finally {
        await proxy.close();
      }
    });
  });

  it('leaves a completed file in place when its upload is aborted afterwards', async () => {
    const store = await openStore();
    const data = randomBytes(1234);
    const handle = await store.begin(randomUUID(), data.byteLength, 1);
    const receipt = await store.putChunk(handle, { index: 0, offset: 0, length: data.byteLength }, pieces(data));
    const ref = await store.complete(handle, randomUUID(), [receipt]);
    await store.abort(handle);
    expect((await collect(store.read(ref, 0, data.byteLength))).bytes.equals(data)).toBe(true);
  });

  it('refuses a body that runs past its chunk even when S3 already has the chunk’s bytes', async () => {
    const store = await openStore();
    const handle = await store.begin(randomUUID(), 20, 2);
    async function* exactThenMore() {
      yield randomBytes(10);
      yield randomBytes(1);
    }
    const err = await rejection(store.putChunk(handle, { index: 0, offset: 0, length: 10 }, exactThenMore()));
    expect(err).toBeInstanceOf(FerryError);
    expect((err as FerryError).code).toBe('chunk-too-long');
    await store.abort(handle);
  });

  it('stops a part upload when its signal aborts, and stops pulling the body', async () => {
    const store = await openStore();
    const handle = await store.begin(randomUUID(), part, 1);
    const controller = new AbortController();
    let pulled = 0;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    async function* endless() {
      try {
        for (;;) {
          pulled++;
          if (pulled === 5) controller.abort(new Error('client went away'));
          yield randomBytes(64 * 1024);
        }
      } finally {
        release();
      }
    }
    const err = await rejection(store.putChunk(handle, { index: 0, offset: 0, length: part }, endless(), { signal: controller.signal }));
    expect(err.message).toBe('client went away');
    await released; // its finally ran: the store ended the body it stopped reading
    expect(pulled).toBeLessThan(part / (64 * 1024));
    await store.abort(handle);
  });

  it('fails a part sent to an aborted upload with S3’s answer, and lets the body go', async () => {
    const store = await openStore();
    const handle = await store.begin(randomUUID(), part, 1);
    await store.abort(handle);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    async function* body() {
      try {
        yield* pieces(randomBytes(part));
      } finally {
        release();
      }
    }
    const err = await rejection(store.putChunk(handle, { index: 0, offset: 0, length: part }, body()));
    expect(err.message).toMatch(/UploadPart \(part 1\) uploads\/[\w-]+ failed: NoSuchUpload \(HTTP 404\)/);
    await released; // its finally ran: the store ended the body S3 stopped reading
  });

  it('refuses references and handles outside its prefix', async () => {
    const bucket = await freshBucket();
    const store = await openStore('here', bucket);
    await expect(store.deleteFile('elsewhere/uploads/x')).rejects.toThrow(/not an object of this store/);
    await expect(collect(store.read('here/uploads/../x', 0, 1))).rejects.toThrow(/not an object of this store/);
    await expect(store.abort('{"key":"there/uploads/x","uploadId":"2~y"}')).rejects.toThrow(/not an object of this store/);
    await expect(store.begin('a/b', 1, 1)).rejects.toThrow(/plain name/);
  });

  it('does not take a missing bucket for a gone upload or file: abort and delete fail', async () => {
    const store = await openStore();
    const handle = await store.begin(randomUUID(), 10, 1);
    const elsewhere = await openS3BlobStore(s3StoreOptions(`ferry-missing-${randomUUID().slice(0, 8)}`));
    opened.push(elsewhere);
    expect((await rejection(elsewhere.abort(handle))).message).toMatch(/AbortMultipartUpload .*NoSuchBucket \(HTTP 404\)/);
    expect((await rejection(elsewhere.deleteFile(store.fileRefOf(handle, randomUUID())))).message).toMatch(/DeleteObject .*NoSuchBucket \(HTTP 404\)/);
    await store.abort(handle);
    await store.abort(handle); // an upload that is gone still counts as aborted
  });

  it('gives a missing file’s read a clear error', async () => {
    const store = await openStore();
    const err = await rejection(collect(store.read('uploads/nothing', 0, 10)));
    expect(err.message).toMatch(/GetObject .*uploads\/nothing.*NoSuchKey \(HTTP 404\)/);
  });

  describe('ping', () => {
    it('answers for a bucket that is there', async () => {
      await (await openStore()).ping();
    });

    it('says the bucket does not exist', async () => {
      const store = await openS3BlobStore(s3StoreOptions(`ferry-missing-${Date.now().toString(36)}`));
      opened.push(store);
      expect((await rejection(store.ping())).message).toMatch(/^bucket ferry-missing-\w+ does not exist at http:/);
    });

    it('says S3 refused the credentials', async () => {
      const options = s3StoreOptions(await freshBucket());
      const store = await openS3BlobStore({ ...options, credentials: { ...options.credentials, secretAccessKey: 'not-the-secret' } });
      opened.push(store);
      expect((await rejection(store.ping())).message).toMatch(/^S3 refused the credentials for bucket ferry-test-[\w-]+ at http:.*HTTP 403/);
    });

    it('fails once S3 stays silent for the idle timeout, instead of waiting for ever', async () => {
      // Accepts the connection, reads the request, never answers.
      const sockets = new Set<import('node:net').Socket>();
      const silent = createServer((socket) => {
        sockets.add(socket);
        socket.on('data', () => undefined);
      });
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const { port } = silent.address() as { port: number };
      try {
        const store = await openS3BlobStore({ ...s3StoreOptions('some-bucket'), endpoint: `http://127.0.0.1:${port}`, idleTimeoutMs: 300 });
        opened.push(store);
        const started = Date.now();
        expect((await rejection(store.ping())).message).toMatch(/^cannot reach S3 at http:\/\/127.0.0.1:\d+: TimeoutError: .*300 ms of inactivity/);
        expect(Date.now() - started).toBeLessThan(5_000);
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => silent.close(resolve));
      }
    });

    it('never cuts a slow answer that keeps moving: the timeout is for silence, not length', async () => {
      // Answers a ranged GET with 12 bytes, one every 100 ms: longer in all than the 400 ms idle timeout.
      const body = Buffer.from('slow but alive'.slice(0, 12));
      const slow = createHttpServer((_req, res) => {
        res.writeHead(206, { 'content-length': body.byteLength, 'content-range': `bytes 0-${body.byteLength - 1}/${body.byteLength}` });
        let at = 0;
        const timer = setInterval(() => {
          res.write(body.subarray(at, at + 1));
          if (++at === body.byteLength) {
            clearInterval(timer);
            res.end();
          }
        }, 100);
        res.on('close', () => clearInterval(timer));
      });
      await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
      const { port } = slow.address() as { port: number };
      try {
        const store = await openS3BlobStore({ ...s3StoreOptions('some-bucket'), endpoint: `http://127.0.0.1:${port}`, idleTimeoutMs: 400 });
        opened.push(store);
        expect((await collect(store.read('uploads/file', 0, body.byteLength))).bytes.equals(body)).toBe(true);
      } finally {
        slow.closeAllConnections();
        await new Promise((resolve) => slow.close(resolve));
      }
    });

    it('says it cannot reach S3 at a closed port', async () => {
      const port = await closedPort();
      const store = await openS3BlobStore({ ...s3StoreOptions('some-bucket'), endpoint: `http://127.0.0.1:${port}` });
      opened.push(store);
      expect((await rejection(store.ping())).message).toBe(`cannot reach S3 at http://127.0.0.1:${port}: ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:${port}`);
    });
  });
});
