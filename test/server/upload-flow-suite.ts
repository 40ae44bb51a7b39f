// The upload protocol end to end over real HTTP: create, chunks in any order, status, assembly, download.
// Shared by upload-flow.test.ts (SQLite) and protocol-on-postgres.test.ts (PostgreSQL): one set of assertions, every metadata store.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Paths } from '../../src/protocol/index.js';
import { randomData, sha256Field, sha256Hex } from '../helpers/digest.js';
import { call, chunkOf, create, createWithFirstChunk, download, putChunk, sendChunks, status } from '../helpers/http.js';
import type { ServerConfigInput } from '../../src/server/index.js';
import { KiB, MiB, type TestServer } from '../helpers/server.js';

/** Registers the tests; `start` starts a server (with the suite's config) for them, which they dispose of. */
export function describeUploadFlow(start: (config?: ServerConfigInput) => Promise<TestServer>): void {
  let server: TestServer;
  beforeAll(async () => {
    server = await start();
  });
  afterAll(() => server.dispose());

  const cs = 64 * KiB;

  async function uploadWhole(data: Buffer, chunkSize: number, order?: number[]) {
    const created = await create(server.url, { name: 'data.bin', size: data.length, chunkSize });
    expect(created.status).toBe(201);
    const { uploadId, totalChunks } = created.body;
    const indexes = order ?? [...Array(totalChunks).keys()];
    const replies = await sendChunks(server.url, uploadId, data, chunkSize, indexes);
    return { uploadId, replies, totalChunks };
  }

  describe('capabilities', () => {
    it('reports the limits and sha-256', async () => {
      const r = await call(server.url, 'GET', Paths.capabilities);
      expect(r.status).toBe(200);
      expect(r.headers['ferry-version']).toBe('1');
      expect(r.body).toMatchObject({ protocol: 'ferry', version: 1, minChunkSize: 1 * KiB, defaultChunkSize: 64 * KiB, checksums: ['sha-256'], creationWithFirstChunk: true, fsync: true });
    });
  });

  describe('create', () => {
    it('answers with an unguessable id, chunk plan, URLs and expiry', async () => {
      const r = await create(server.url, { name: 'a.iso', size: 10 * cs + 5, chunkSize: cs, metadata: { owner: 'ana' } });
      expect(r.status).toBe(201);
      expect(r.body.uploadId).toMatch(/^[A-Za-z0-9_-]{24}$/);
      expect(r.headers.location).toBe(r.body.uploadUrl);
      expect(r.body).toMatchObject({ state: 'uploading', chunkSize: cs, totalChunks: 11, chunksReceived: 0, missing: '0-10', metadata: { owner: 'ana' }, firstChunk: null });
      expect(Date.parse(r.body.expiresAt)).toBeGreaterThan(Date.now());
    });

    it('raises the chunk size so the file fits in maxChunks', async () => {
      const r = await create(server.url, { name: 'big', size: 100_000 * 2 * KiB, chunkSize: 2 * KiB });
      expect(r.status).toBe(201);
      expect(r.body.totalChunks).toBeLessThanOrEqual(10_000);
      expect(r.body.chunkSize).toBe(Math.ceil((100_000 * 2 * KiB) / 10_000));
    });
  });

  describe('assembled file is byte-identical', () => {
    for (const size of [0, 1, cs - 1, cs, cs + 1, 5 * cs + 17]) {
      it(`for ${size} bytes`, async () => {
        const data = randomData(size);
        const { replies } = await uploadWhole(data, cs);
        const last = replies.find((r) => r.body.complete);
        expect(last?.status).toBe(201);
        const file = await download(last!.body.fileUrl);
        expect(file.status).toBe(200);
        expect(file.headers.get('content-length')).toBe(String(size));
        expect(sha256Hex(file.bytes)).toBe(sha256Hex(data));
      });
    }

    it('for a 64 MiB file sent out of order, 6 in parallel, with 1 MiB chunks', async () => {
      const data = randomData(64 * MiB);
      const order = [...Array(64).keys()].reverse();
      const { uploadId, replies } = await uploadWhole(data, 1 * MiB, order);
      expect(replies.every((r) => r.status === 201)).toBe(true);
      expect(replies.filter((r) => r.body.complete)).toHaveLength(1);
      const st = await status(server.url, uploadId);
      expect(st.body).toMatchObject({ state: 'complete', chunksReceived: 64, bytesReceived: 64 * MiB, missing: '' });
      const file = await download(st.body.fileUrl);
      expect(sha256Hex(file.bytes)).toBe(sha256Hex(data));
    });
  });

  describe('idempotent chunks', () => {
    it('every chunk sent twice: the second is a duplicate and nothing changes', async () => {
      const data = randomData(4 * cs);
      const { uploadId } = (await create(server.url, { name: 'twice', size: data.length, chunkSize: cs })).body;
      for (let i = 0; i < 4; i++) {
        const first = await putChunk(server.url, uploadId, i, chunkOf(data, cs, i));
        const again = await putChunk(server.url, uploadId, i, chunkOf(data, cs, i));
        expect(first.status).toBe(201);
        expect(first.body.duplicate).toBe(false);
        expect(again.status).toBe(200);
        expect(again.body).toMatchObject({ duplicate: true, index: i });
        if (i === 3) expect(again.body).toMatchObject({ complete: true, fileId: first.body.fileId });
      }
      const st = await status(server.url, uploadId);
      expect(st.body).toMatchObject({ state: 'complete', chunksReceived: 4, bytesReceived: data.length });
      expect(sha256Hex((await download(st.body.fileUrl)).bytes)).toBe(sha256Hex(data));
    });

    it('a stored chunk sent with a different digest is a conflict and the stored bytes stay', async () => {
      const data = randomData(2 * cs);
      const { uploadId } = (await create(server.url, { name: 'conflict', size: data.length, chunkSize: cs })).body;
      expect((await putChunk(server.url, uploadId, 0, chunkOf(data, cs, 0))).status).toBe(201);
      const other = randomData(cs);
      const r = await putChunk(server.url, uploadId, 0, other);
      expect(r.status).toBe(409);
      expect(r.body.type).toBe('urn:ferry:problem:chunk-conflict');
      const done = await putChunk(server.url, uploadId, 1, chunkOf(data, cs, 1));
      expect(sha256Hex((await download(done.body.fileUrl)).bytes)).toBe(sha256Hex(data));
    });
  });

  describe('creation with the first chunk', () => {
    it('a file smaller than a chunk is one request', async () => {
      const data = randomData(1000);
      const r = await createWithFirstChunk(server.url, { name: 'small.txt', size: data.length, chunkSize: cs }, data);
      expect(r.status).toBe(201);
      expect(r.body).toMatchObject({ state: 'complete', chunksReceived: 1, firstChunk: { index: 0, complete: true } });
      expect(r.body.fileUrl).toBe(r.body.firstChunk.fileUrl);
      expect(sha256Hex((await download(r.body.fileUrl)).bytes)).toBe(sha256Hex(data));
    });

    it('a larger file gets chunk 0 with the create and the rest by PUT', async () => {
      const data = randomData(3 * cs);
      const r = await createWithFirstChunk(server.url, { name: 'three', size: data.length, chunkSize: cs }, chunkOf(data, cs, 0));
      expect(r.status).toBe(201);
      expect(r.body).toMatchObject({ state: 'uploading', chunksReceived: 1, missing: '1-2', firstChunk: { index: 0, duplicate: false, complete: false } });
      await putChunk(server.url, r.body.uploadId, 2, chunkOf(data, cs, 2));
      const done = await putChunk(server.url, r.body.uploadId, 1, chunkOf(data, cs, 1));
      expect(done.body.complete).toBe(true);
      expect(sha256Hex((await download(done.body.fileUrl)).bytes)).toBe(sha256Hex(data));
    });

    it('a bad first chunk creates nothing', async () => {
      const data = randomData(cs);
      const r = await createWithFirstChunk(server.url, { name: 'bad', size: 2 * cs, chunkSize: cs }, data, sha256Field(randomData(10)));
      expect(r.status).toBe(422);
      expect(r.body.type).toBe('urn:ferry:problem:digest-mismatch');
      const files = await call(server.url, 'GET', '/files');
      expect(files.body.files.some((f: { name: string }) => f.name === 'bad')).toBe(false);
    });
  });

  describe('status', () => {
    it('lists missing chunks as ranges, on GET and HEAD', async () => {
      const data = randomData(10 * cs);
      const { uploadId } = (await create(server.url, { name: 'gaps', size: data.length, chunkSize: cs })).body;
      for (const i of [0, 1, 2, 5, 9]) await putChunk(server.url, uploadId, i, chunkOf(data, cs, i));
      const st = await status(server.url, uploadId);
      expect(st.body).toMatchObject({ state: 'uploading', chunksReceived: 5, bytesReceived: 5 * cs, missing: '3-4,6-8' });
      const head = await call(server.url, 'HEAD', Paths.upload(uploadId));
      expect(head.status).toBe(200);
      expect(head.headers).toMatchObject({ 'ferry-upload-state': 'uploading', 'ferry-chunks-received': '5', 'ferry-chunks-missing': '3-4,6-8' });
      expect(head.text).toBe('');
    });
  });

  describe('status of a badly fragmented upload', () => {
    it('keeps a long missing list out of the headers (clients cap them) and in the body', async () => {
      const total = 10_000;
      const { uploadId } = (await create(server.url, { name: 'sparse', size: total * 1024, chunkSize: 1024 })).body;
      const chunk = randomData(1024);
      // Chunks 0, 2, 4, ... 2998: 1,500 gaps plus the tail, about 8 KiB of ranges.
      const sent = Array.from({ length: 1500 }, (_, i) => 2 * i);
      for (let i = 0; i < sent.length; i += 50) {
        await Promise.all(sent.slice(i, i + 50).map((idx) => putChunk(server.url, uploadId, idx, chunk)));
      }
      const st = await status(server.url, uploadId);
      expect(st.status).toBe(200);
      expect(st.headers['ferry-chunks-missing']).toBeUndefined();
      expect(st.body.missing.length).toBeGreaterThan(4096);
      expect(st.body.missing.startsWith('1,3,5,')).toBe(true);
      expect(st.body.missing.endsWith(',2999-9999')).toBe(true);
    });
  });

  describe('abort', () => {
    it('frees the storage; later chunks get 410 and status says aborted', async () => {
      const data = randomData(2 * cs);
      const { uploadId } = (await create(server.url, { name: 'gone', size: data.length, chunkSize: cs })).body;
      await putChunk(server.url, uploadId, 0, chunkOf(data, cs, 0));
      const del = await call(server.url, 'DELETE', Paths.upload(uploadId));
      expect(del.status).toBe(204);
      const { readdir } = await import('node:fs/promises');
      expect((await readdir(`${server.dataDir}/uploads`)).some((f) => f.startsWith(uploadId))).toBe(false);
      const r = await putChunk(server.url, uploadId, 1, chunkOf(data, cs, 1));
      expect(r.status).toBe(410);
      expect(r.body.type).toBe('urn:ferry:problem:upload-aborted');
      expect((await status(server.url, uploadId)).body.state).toBe('aborted');
      expect((await call(server.url, 'DELETE', Paths.upload(uploadId))).status).toBe(204);
    });

    it('a completed upload cannot be aborted', async () => {
      const data = randomData(10);
      const r = await createWithFirstChunk(server.url, { name: 'kept', size: 10, chunkSize: cs }, data);
      const del = await call(server.url, 'DELETE', Paths.upload(r.body.uploadId));
      expect(del.status).toBe(409);
      expect(del.body.type).toBe('urn:ferry:problem:upload-completed');
      expect((await download(r.body.fileUrl)).status).toBe(200);
    });
  });

  describe('files', () => {
    it('serve a safe Content-Disposition for any name, on GET and HEAD', async () => {
      const data = randomData(10);
      const r = await createWithFirstChunk(server.url, { name: 'résumé "final".pdf', size: 10, chunkSize: cs }, data);
      const head = await call(server.url, 'HEAD', new URL(r.body.fileUrl).pathname);
      expect(head.status).toBe(200);
      expect(head.headers['content-length']).toBe('10');
      expect(head.headers['content-disposition']).toBe(`attachment; filename="r_sum_ _final_.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.pdf`);
      const list = await call(server.url, 'GET', '/files');
      expect(list.body.files.find((f: { fileId: string }) => f.fileId === r.body.fileId)).toMatchObject({ name: 'résumé "final".pdf', size: 10 });
    });

    it('a whole-file digest declared at create is verified at completion', async () => {
      const data = randomData(3 * cs);
      const good = await create(server.url, { name: 'ok', size: data.length, chunkSize: cs, fileDigest: sha256Field(data) });
      const replies = await sendChunks(server.url, good.body.uploadId, data, cs, [0, 1, 2], 1);
      expect(replies[2]!.body).toMatchObject({ complete: true });
      const bad = await create(server.url, { name: 'wrong', size: data.length, chunkSize: cs, fileDigest: sha256Field(randomData(5)) });
      const badReplies = await sendChunks(server.url, bad.body.uploadId, data, cs, [0, 1, 2], 1);
      expect(badReplies[2]!.status).toBe(422);
      expect(badReplies[2]!.body.type).toBe('urn:ferry:problem:file-digest-mismatch');
      expect((await status(server.url, bad.body.uploadId)).body.state).toBe('failed');
    });
  });
}
