// A Ferry server on SQLite metadata and the S3 blob store (real RGW in CI): chunk limits follow S3's, and a file goes in and out intact.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { upload } from '../../src/client/node/index.js';
import { MiB, Paths } from '../../src/protocol/index.js';
import { startServer, type FerryServer, type ServerConfigInput } from '../../src/server/index.js';
import { openSqliteMetaStore } from '../../src/stores/sqlite/meta-store.js';
import { openS3BlobStore } from '../../src/stores/s3/blob-store.js';
import { call, create } from '../helpers/http.js';
import { dropBuckets, freshBucket, s3Required, s3StoreOptions, testS3Client } from '../helpers/s3.js';
import { testLimits } from '../helpers/server.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(async () => {
  if (!s3Required) await dropBuckets();
});

/** A server on a fresh bucket and its own SQLite file; closed (stores too) after the test. */
async function s3Server(config: ServerConfigInput = {}): Promise<{ server: FerryServer; bucket: string; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-s3-server-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const bucket = await freshBucket();
  const meta = await openSqliteMetaStore(join(dir, 'meta.sqlite'));
  const blobs = await openS3BlobStore(s3StoreOptions(bucket, 'ferry'));
  const server = await startServer({ port: 0, host: '127.0.0.1', logLevel: 'silent', ...testLimits, dataDir: dir, ...config }, { meta, blobs });
  cleanups.push(() => server.close());
  return { server, bucket, dir };
}

describe.skipIf(s3Required)('a server on the S3 blob store', () => {
  it('advertises chunk limits within S3’s: at least 5 MiB, at most 10,000 chunks', async () => {
    // Configured below S3 (1 KiB chunks, 64 KiB default, 50,000 chunks): S3's limits win.
    const { server } = await s3Server({ maxChunks: 50_000 });
    const caps = await call(server.url, 'GET', Paths.capabilities);
    expect(caps.status).toBe(200);
    expect(caps.body).toMatchObject({ minChunkSize: 5 * MiB, defaultChunkSize: 5 * MiB, maxChunkSize: testLimits.maxChunkSize, maxChunks: 10_000 });
  });

  it('keeps configured limits that are stricter than S3’s', async () => {
    const { server } = await s3Server({ minChunkSize: 6 * MiB, defaultChunkSize: 8 * MiB, maxChunks: 100 });
    const caps = await call(server.url, 'GET', Paths.capabilities);
    expect(caps.body).toMatchObject({ minChunkSize: 6 * MiB, defaultChunkSize: 8 * MiB, maxChunks: 100 });
  });

  it('refuses a chunk size under 5 MiB with the invalid-chunk-size problem, storing nothing', async () => {
    const { server, bucket } = await s3Server();
    const r = await create(server.url, { name: 'small-chunks.bin', size: 20 * MiB, chunkSize: 1 * MiB });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ type: 'urn:ferry:problem:invalid-chunk-size', minChunkSize: 5 * MiB });
    expect(await server.ctx.blobs.listIncomplete()).toEqual([]);
    expect((await testS3Client().send(new ListObjectsV2Command({ Bucket: bucket }))).KeyCount).toBe(0);
  });

  it('picks S3-sized chunks when none is asked for, and refuses a file that needs more than 10,000', async () => {
    const { server } = await s3Server({ maxChunkSize: 8 * MiB });
    const ok = await create(server.url, { name: 'default.bin', size: 100 * MiB });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ chunkSize: 5 * MiB, totalChunks: 20 });
    const tooBig = await create(server.url, { name: 'huge.bin', size: 10_000 * 8 * MiB + 1 });
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.type).toBe('urn:ferry:problem:file-too-large');
  });

  it('takes a 24 MiB upload from the Node client and serves the same bytes, whole and by range', async () => {
    const { server, bucket, dir } = await s3Server();
    const data = randomBytes(24 * MiB + 321);
    const path = join(dir, 'payload.bin');
    await writeFile(path, data);
    const result = await upload(path, { server: server.url, fileDigest: 'compute' }).result;
    // 5 MiB chunks (the server's advertised minimum and default), each an S3 part; the digest was checked by reading the object back.
    expect(result).toMatchObject({ size: data.byteLength, chunks: 5 });
    expect(result.digest).toBe(`sha-256=:${createHash('sha256').update(data).digest('base64')}:`);
    const head = await testS3Client().send(new HeadObjectCommand({ Bucket: bucket, Key: `ferry/uploads/${result.uploadId}` }));
    expect(head.ContentLength).toBe(data.byteLength);
    expect(head.ETag).toMatch(/-5"$/); // assembled by S3 from 5 parts, not copied

    const whole = await fetch(result.fileUrl);
    expect(whole.status).toBe(200);
    expect(Buffer.from(await whole.arrayBuffer()).equals(data)).toBe(true);

    const from = 5 * MiB - 1000;
    const to = 17 * MiB + 12_345; // inclusive, across three parts
    const ranged = await fetch(result.fileUrl, { headers: { range: `bytes=${from}-${to}` } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes ${from}-${to}/${data.byteLength}`);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(data.subarray(from, to + 1))).toBe(true);

    const suffix = await fetch(result.fileUrl, { headers: { range: 'bytes=-100000' } });
    expect(suffix.status).toBe(206);
    expect(Buffer.from(await suffix.arrayBuffer()).equals(data.subarray(data.byteLength - 100_000))).toBe(true);
  });

  it('stores and serves a 0-byte file', async () => {
    const { server, dir } = await s3Server();
    const path = join(dir, 'empty.bin');
    await writeFile(path, Buffer.alloc(0));
    const result = await upload(path, { server: server.url }).result;
    expect(result).toMatchObject({ size: 0, chunks: 1 });
    const res = await fetch(result.fileUrl);
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });
});
