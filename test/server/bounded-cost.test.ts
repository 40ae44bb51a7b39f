// Manifests and upload status cost what they answer, not what the upload holds: a finished file's
// manifest is serialised once and served as stored bytes (304 on its ETag), and a status reads the
// upload's missing ranges, never its chunk rows. Observed by counting calls on the real store.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FileManifest, formatIndexRanges, Headers, missingIndexes, Paths, UploadStatus } from '../../src/protocol/index.js';
import { startServer } from '../../src/server/index.js';
import { ManifestPartChunks } from '../../src/server/manifest.js';
import { MissingPageSize } from '../../src/server/missing-chunks.js';
import { fileInfo } from '../../src/server/representation.js';
import { maxMissingHeaderLength } from '../../src/server/routes/upload-status.js';
import { openEmbeddedStores } from '../../src/stores/embedded.js';
import type { MetaStore } from '../../src/stores/types.js';
import { sha256Field } from '../helpers/digest.js';
import { tempDir, testLimits, type TestServer } from '../helpers/server.js';

/** The real SQLite store, with every method call counted by name. */
function counted(store: MetaStore): { meta: MetaStore; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const meta = new Proxy(store, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.set(String(prop), (calls.get(String(prop)) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { meta, calls };
}

let server: TestServer | undefined;
afterEach(async () => {
  await server?.dispose();
  server = undefined;
});

/** A server with 1-byte chunks allowed, so a 10,000-chunk upload is 10,000 bytes. */
async function startCounted(): Promise<{ s: TestServer; calls: Map<string, number>; store: MetaStore }> {
  const dataDir = await tempDir();
  const stores = await openEmbeddedStores({ dataDir, fsync: false });
  const { meta, calls } = counted(stores.meta);
  const config = { port: 0, host: '127.0.0.1', logLevel: 'silent' as const, dataDir, fsync: false, ...testLimits, minChunkSize: 1, defaultChunkSize: 1 };
  const running = await startServer(config, { meta, blobs: stores.blobs });
  const s: TestServer = {
    ...running,
    dataDir,
    dispose: async () => {
      await running.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return { s, calls, store: stores.meta };
}

/** Byte `i` of the test file (so chunk i of a 1-byte-chunk upload is knowable without keeping it). */
const byteAt = (i: number) => Buffer.from([(i * 7 + 3) & 0xff]);

async function createUpload(base: string, size: number): Promise<UploadStatus> {
  const res = await fetch(base + Paths.uploads, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'many-chunks.bin', size, chunkSize: 1 }),
  });
  expect(res.status).toBe(201);
  return UploadStatus.parse(await res.json());
}

/** PUTs the given chunk indexes over keep-alive connections, 16 at a time. */
async function putChunks(base: string, uploadId: string, indexes: number[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < indexes.length) {
      const i = indexes[next++]!;
      const body = byteAt(i);
      const res = await fetch(`${base}/uploads/${uploadId}/chunks/${i}`, {
        method: 'PUT',
        headers: { [Headers.contentDigest]: sha256Field(body) },
        body,
      });
      await res.arrayBuffer();
      expect(res.status).toBe(201);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const count = (calls: Map<string, number>, name: string) => calls.get(name) ?? 0;

/** The manifest the server used to build on every request: all chunk rows, through JSON.stringify. */
async function manifestTheOldWay(store: MetaStore, base: string, fileId: string): Promise<string> {
  const file = (await store.getFile(fileId))!;
  const chunks = await store.listChunks(file.uploadId);
  return JSON.stringify({
    ...fileInfo(file, base),
    etag: file.etag,
    chunks: chunks.map((c) => ({ index: c.index, offset: c.index * file.chunkSize, size: c.size, digest: c.digest })),
  });
}

describe('GET /files/{id}/manifest of a many-chunk file', () => {
  const totalChunks = 2 * ManifestPartChunks + 500; // three stored parts
  let s: TestServer;
  let calls: Map<string, number>;
  let store: MetaStore;
  let fileId: string;

  async function uploadFile(chunks: number): Promise<string> {
    const upload = await createUpload(s.url, chunks);
    await putChunks(s.url, upload.uploadId, range(chunks));
    const done = UploadStatus.parse(await (await fetch(s.url + Paths.upload(upload.uploadId))).json());
    expect(done.state).toBe('complete');
    return done.fileId!;
  }

  beforeAll(async () => {
    ({ s, calls, store } = await startCounted());
    fileId = await uploadFile(totalChunks);
  }, 60_000);
  afterAll(async () => {
    await s?.dispose();
  });

  it('is serialised once at completion and then served from the stored bytes, the same JSON as before', async () => {
    expect(await store.getManifest(fileId)).toMatchObject({ parts: 3 });

    calls.clear();
    const first = await fetch(s.url + Paths.manifest(fileId));
    const text = await first.text();
    const second = await (await fetch(s.url + Paths.manifest(fileId))).text();
    expect(first.status).toBe(200);
    // Not one chunk row read for either request: the stored parts were sent as they are, read from
    // the store once and then kept in memory for the next request.
    expect(count(calls, 'listChunks')).toBe(0);
    expect(count(calls, 'getManifestPart')).toBe(3);
    expect(first.headers.get('content-length')).toBe(String(Buffer.byteLength(text)));
    expect(first.headers.get('content-type')).toMatch(/^application\/json/);
    expect(second).toBe(text);

    // Byte for byte what the per-request build produced, and a manifest that checks out.
    expect(text).toBe(await manifestTheOldWay(store, s.url, fileId));
    const manifest = FileManifest.parse(JSON.parse(text));
    expect(manifest.chunks).toHaveLength(totalChunks);
    expect(first.headers.get('etag')).toBe(manifest.etag);
    manifest.chunks.forEach((c, i) => {
      expect(c).toEqual({ index: i, offset: i, size: 1, digest: sha256Field(byteAt(i)) });
    });
  });

  it('answers If-None-Match with its ETag by 304 without reading the manifest', async () => {
    const etag = (await fetch(s.url + Paths.manifest(fileId))).headers.get('etag')!;
    calls.clear();
    const res = await fetch(s.url + Paths.manifest(fileId), { headers: { 'if-none-match': etag } });
    expect(res.status).toBe(304);
    expect(await res.text()).toBe('');
    expect(res.headers.get('etag')).toBe(etag);
    expect(count(calls, 'getManifest') + count(calls, 'getManifestPart') + count(calls, 'listChunks')).toBe(0);
    // another tag: the whole manifest
    expect((await fetch(s.url + Paths.manifest(fileId), { headers: { 'if-none-match': '"other"' } })).status).toBe(200);
  });

  it('is built once, by the first requests, for a file finished before manifests were stored', async () => {
    const expected = await manifestTheOldWay(store, s.url, fileId);
    // As an upgraded data directory has it: the file and its chunk rows, no stored manifest.
    const db = new Database(join(s.dataDir, 'meta.sqlite'));
    db.prepare('DELETE FROM manifests WHERE file_id = ?').run(fileId);
    db.prepare('DELETE FROM manifest_parts WHERE file_id = ?').run(fileId);
    db.close();
    expect(await store.getManifest(fileId)).toBeUndefined();

    calls.clear();
    const bodies = await Promise.all(range(10).map(async () => (await fetch(s.url + Paths.manifest(fileId))).text()));
    expect(new Set(bodies)).toEqual(new Set([expected]));
    // one build: one page of chunk rows per stored part (the last page is short, so no empty read)
    expect(count(calls, 'listChunks')).toBe(3);
    expect(count(calls, 'sealManifest')).toBe(1);
    expect(await store.getManifest(fileId)).toMatchObject({ parts: 3 });

    calls.clear();
    expect(await (await fetch(s.url + Paths.manifest(fileId))).text()).toBe(expected);
    expect(count(calls, 'listChunks')).toBe(0);
  });

  it('goes with its file', async () => {
    const small = await uploadFile(3);
    expect(await store.getManifest(small)).toMatchObject({ parts: 1 });
    expect((await fetch(s.url + Paths.file(small), { method: 'DELETE' })).status).toBe(204);
    expect(await store.getManifest(small)).toBeUndefined();
    expect(await store.getManifestPart(small, 0)).toBeUndefined();
    expect((await fetch(s.url + Paths.manifest(small))).status).toBe(404);
  });
});

describe('GET /uploads/{id} of a 10,000-chunk upload with every other chunk missing', () => {
  it('lists the 5,000 missing chunks from the missing ranges, without reading a chunk row', async () => {
    const { s, calls, store } = await startCounted();
    server = s;
    const total = 10_000;
    const upload = await createUpload(s.url, total);
    expect(upload.totalChunks).toBe(total);
    await putChunks(s.url, upload.uploadId, range(total).filter((i) => i % 2 === 1));

    calls.clear();
    const res = await fetch(s.url + Paths.upload(upload.uploadId));
    const status = UploadStatus.parse(await res.json());
    expect(count(calls, 'listChunks')).toBe(0);
    expect(count(calls, 'getChunk')).toBe(0);
    // 5,000 gaps, read a page at a time (the last page is short)
    expect(count(calls, 'listMissing')).toBe(Math.floor(total / 2 / MissingPageSize) + 1);
    // asked again with nothing received since: the ranges made for this count of chunks, not read again
    calls.clear();
    const head = await fetch(s.url + Paths.upload(upload.uploadId), { method: 'HEAD' });
    expect(count(calls, 'listMissing')).toBe(0);
    expect(count(calls, 'getUpload')).toBeGreaterThan(0);

    const evens = range(total).filter((i) => i % 2 === 0);
    expect(status).toMatchObject({ state: 'uploading', chunksReceived: total / 2, missing: formatIndexRanges(evens) });
    // the same answer as the old computation from every chunk row
    const rows = await store.listChunks(upload.uploadId);
    expect(status.missing).toBe(formatIndexRanges(missingIndexes(total, rows.map((r) => r.index))));
    // ~24 KB of ranges: too long for a header, so only in the body (as before)
    expect(status.missing.length).toBeGreaterThan(maxMissingHeaderLength);
    expect(res.headers.get(Headers.chunksMissing)).toBeNull();
    expect(head.status).toBe(200);
    expect(head.headers.get(Headers.chunksReceived)).toBe(String(total / 2));

    // chunks that arrive leave the list
    await putChunks(s.url, upload.uploadId, [0, 4, 9998]);
    const later = UploadStatus.parse(await (await fetch(s.url + Paths.upload(upload.uploadId))).json());
    expect(later.missing).toBe(formatIndexRanges(evens.filter((i) => ![0, 4, 9998].includes(i))));
  }, 60_000);
});
