// Two servers over one metadata store and one blob store, as two nodes share PostgreSQL and S3: every
// coordination (chunk writers, completion, expiry, recovery) must hold through the stores alone.
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Headers, Paths } from '../../src/protocol/index.js';
import { startServer, type FerryServer, type ServerConfigInput } from '../../src/server/index.js';
import type { FerryEvent } from '../../src/server/events.js';
import { FsBlobStore } from '../../src/stores/fs/blob-store.js';
import { openSqliteMetaStore } from '../../src/stores/sqlite/meta-store.js';
import type { BlobStore, MetaStore } from '../../src/stores/types.js';
import { randomData, sha256Field, sha256Hex } from '../helpers/digest.js';
import { call, chunkOf, create, download, putChunk, status } from '../helpers/http.js';
import { KiB, tempDir, testLimits } from '../helpers/server.js';

const cs = 64 * KiB;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

interface Pair {
  a: FerryServer;
  b: FerryServer;
  meta: MetaStore;
  blobs: BlobStore;
  events: FerryEvent[];
}

/** Two nodes on shared stores; each node's close() would close the stores, so they are closed once, last. */
/** How node A sees the stores (a slow disk, a link to the database that hangs...); node B sees them as they are. */
interface NodeAView {
  blobs?: (blobs: BlobStore) => BlobStore;
  meta?: (meta: MetaStore) => MetaStore;
}

async function twoNodes(config: ServerConfigInput = {}, viewA: NodeAView = {}): Promise<Pair> {
  const dataDir = await tempDir();
  const meta = await openSqliteMetaStore(join(dataDir, 'meta.sqlite'));
  const blobs = new FsBlobStore({ dir: dataDir, fsync: false });
  const shared = { meta: { ...bind(meta), close: async () => {} } as MetaStore, blobs: { ...bind(blobs), close: async () => {} } as BlobStore };
  const events: FerryEvent[] = [];
  const start = () =>
    startServer({ port: 0, host: '127.0.0.1', logLevel: 'silent', ...testLimits, dataDir, ...config }, { ...shared, onEvent: (e) => void events.push(e) });
  const a = await startServer(
    { port: 0, host: '127.0.0.1', logLevel: 'silent', ...testLimits, dataDir, ...config },
    { meta: viewA.meta?.(shared.meta) ?? shared.meta, blobs: viewA.blobs?.(shared.blobs) ?? shared.blobs, onEvent: (e) => void events.push(e) },
  );
  const b = await start();
  cleanups.push(async () => {
    await Promise.all([a.close(), b.close()]);
    await meta.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  return { a, b, meta, blobs, events };
}

/** The object's methods bound to it, as a plain object (so close can be replaced without touching the store). */
function bind<T extends object>(store: T): T {
  const out: Record<string, unknown> = {};
  let proto: object | null = store;
  while (proto && proto !== Object.prototype) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      const value = (store as Record<string, unknown>)[key];
      if (key !== 'constructor' && typeof value === 'function' && !(key in out)) out[key] = value.bind(store);
    }
    proto = Object.getPrototypeOf(proto);
  }
  for (const key of ['limits'] as const) if (key in store) out[key] = (store as Record<string, unknown>)[key];
  return out as T;
}

/** Sends the first half of `body` as chunk `index` and holds; `rest()` sends the remainder. */
function stalledPut(base: string, uploadId: string, index: number, body: Buffer) {
  let rest!: () => void;
  const answer = new Promise<{ status: number; type?: string }>((resolve, reject) => {
    const req = request(new URL(Paths.chunk(uploadId, index), base), {
      method: 'PUT',
      headers: { [Headers.contentDigest]: sha256Field(body), 'content-length': body.length },
      agent: false,
    });
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, type: text ? JSON.parse(text).type : undefined }));
    });
    req.write(body.subarray(0, body.length / 2));
    rest = () => req.end(body.subarray(body.length / 2));
  });
  return { answer, rest: () => rest() };
}

describe('two nodes on one metadata store and one blob store', () => {
  it('a writer stalled on one node never mixes its bytes into a chunk another node stored (the issue 16 repro)', async () => {
    const { a, b } = await twoNodes({ chunkTakeoverSeconds: 0.2 });
    const data = randomData(2 * cs);
    const { uploadId } = (await create(a.url, { name: 'race', size: data.length, chunkSize: cs })).body;
    const theirs = randomData(cs);
    const stalled = stalledPut(a.url, uploadId, 0, theirs);
    await expect.poll(() => a.ctx.chunkWrites.size).toBe(1);
    // Node B refuses while A's lease is fresh, then takes the chunk over once it lapses.
    const early = await putChunk(b.url, uploadId, 0, chunkOf(data, cs, 0));
    expect(early.status).toBe(409);
    expect(early.body.type).toBe('urn:ferry:problem:chunk-in-progress');
    await expect.poll(async () => (await putChunk(b.url, uploadId, 0, chunkOf(data, cs, 0))).status, { interval: 50, timeout: 10_000 }).toBe(201);
    // A's client wakes up and sends the rest: A stops before writing it.
    stalled.rest();
    expect(await stalled.answer).toEqual({ status: 409, type: 'urn:ferry:problem:chunk-in-progress' });
    const done = await putChunk(a.url, uploadId, 1, chunkOf(data, cs, 1));
    expect(done.status).toBe(201);
    expect(done.body.complete).toBe(true);
    const file = await download(done.body.fileUrl);
    expect(sha256Hex(file.bytes)).toBe(sha256Hex(data));
    // The recorded digests name the stored bytes.
    const chunk0 = await a.ctx.meta.getChunk(uploadId, 0);
    expect(chunk0!.digest).toBe(sha256Field(file.bytes.subarray(0, cs)));
  });

  it('a writer whose storage is slow keeps its lease: no other node writes the chunk under it (review repro)', async () => {
    // Node A's storage takes its time with every piece (a slow disk, or S3 slow to take a part).
    let piecesHeld = 0;
    const slow = (blobs: BlobStore): BlobStore => ({
      ...blobs,
      putChunk: (handle, place, body, options) =>
        blobs.putChunk(handle, place, (async function* () {
          for await (const piece of body) {
            piecesHeld++;
            await new Promise((resolve) => setTimeout(resolve, 500)); // 2.5 lease lengths
            yield piece;
          }
        })(), options),
    });
    const { a, b } = await twoNodes({ chunkTakeoverSeconds: 0.2 }, { blobs: slow });
    const data = randomData(2 * cs);
    const { uploadId } = (await create(a.url, { name: 'slow disk', size: data.length, chunkSize: cs })).body;
    const mine = chunkOf(data, cs, 0);
    const first = putChunk(a.url, uploadId, 0, mine);
    await expect.poll(() => piecesHeld).toBeGreaterThan(0);
    // For the whole slow write (several lease lengths), node B is told the chunk is being written.
    let refused = 0;
    let other: Awaited<ReturnType<typeof putChunk>> | undefined;
    while (a.ctx.chunkWrites.size > 0) {
      other = await putChunk(b.url, uploadId, 0, randomData(cs));
      if (other.status !== 409 || other.body.type !== 'urn:ferry:problem:chunk-in-progress') break;
      refused++;
    }
    expect((await first).status).toBe(201);
    expect(refused).toBeGreaterThan(0);
    // What B meets afterwards is the stored chunk (a conflict: another body), never a takeover.
    if (other && other.status !== 409) throw new Error(`node B wrote under a live writer: HTTP ${other.status} ${JSON.stringify(other.body)}`);
    expect((await putChunk(b.url, uploadId, 0, randomData(cs))).body.type).toBe('urn:ferry:problem:chunk-conflict');
    const done = await putChunk(b.url, uploadId, 1, chunkOf(data, cs, 1));
    expect(sha256Hex((await download(done.body.fileUrl)).bytes)).toBe(sha256Hex(data));
  });

  it('the last two chunks on two nodes at the same moment complete the upload once', async () => {
    const { a, b, events } = await twoNodes();
    for (let round = 0; round < 10; round++) {
      const data = randomData(3 * cs);
      const { uploadId } = (await create(a.url, { name: `last-${round}`, size: data.length, chunkSize: cs })).body;
      expect((await putChunk(a.url, uploadId, 0, chunkOf(data, cs, 0))).status).toBe(201);
      const [one, two] = await Promise.all([putChunk(a.url, uploadId, 1, chunkOf(data, cs, 1)), putChunk(b.url, uploadId, 2, chunkOf(data, cs, 2))]);
      expect([one.status, two.status]).toEqual([201, 201]);
      // The one that completed says so; the other may have waited for it, or says 'completing'.
      const fileIds = [one.body.fileId, two.body.fileId].filter(Boolean);
      expect(fileIds.length).toBeGreaterThanOrEqual(1);
      const st = await status(b.url, uploadId);
      expect(st.body.state).toBe('complete');
      for (const id of fileIds) expect(id).toBe(st.body.fileId);
      expect(sha256Hex((await download(st.body.fileUrl)).bytes)).toBe(sha256Hex(data));
      expect(events.filter((e) => e.type === 'upload.completed' && e.data.uploadId === uploadId)).toHaveLength(1);
    }
  });

  it('a completion whose node died is taken over by the other node once its lease lapses', async () => {
    const { a, b, meta, events } = await twoNodes();
    const data = randomData(2 * cs);
    const { uploadId } = (await create(a.url, { name: 'orphaned completion', size: data.length, chunkSize: cs })).body;
    // Node A recorded every chunk, moved the upload to 'completing', took the completion lease and died.
    const upload = (await meta.getUpload(uploadId))!;
    for (const i of [0, 1]) {
      const bytes = chunkOf(data, cs, i);
      const receipt = await a.ctx.blobs.putChunk(upload.blobHandle, { index: i, offset: i * cs, length: bytes.length }, (async function* () { yield bytes; })());
      await meta.recordChunk(uploadId, { index: i, size: bytes.length, digest: sha256Field(bytes), receipt }, upload.expiresAt);
    }
    expect(await meta.transition(uploadId, ['uploading'], 'completing')).toBe(true);
    expect(await meta.claimChunk(uploadId, -1, 'dead-node/1', Date.now() + 60_000)).toBe(true);
    // While the dead node's lease is live nobody else assembles: status says so at once.
    expect((await status(b.url, uploadId)).body.state).toBe('completing');
    // Its lease lapses (renewed by no one): the next status request on node B finishes the job.
    expect(await meta.claimChunk(uploadId, -1, 'dead-node/1', Date.now() - 1)).toBe(true);
    const st = await status(b.url, uploadId);
    expect(st.body.state).toBe('complete');
    expect(sha256Hex((await download(st.body.fileUrl)).bytes)).toBe(sha256Hex(data));
    expect(events.filter((e) => e.type === 'upload.completed')).toHaveLength(1);
  });

  it('a completer that stalled past its lease writes no file record once another node finished (and the file was deleted)', async () => {
    // Node A assembles the file but then hangs (its storage stalls, its lease renewals never reach
    // the database), long enough for node B to take over, finish, and for the owner to delete the file.
    let enterComplete!: () => void;
    const inComplete = new Promise<void>((resolve) => (enterComplete = resolve));
    let resume!: () => void;
    const resumed = new Promise<void>((resolve) => (resume = resolve));
    let frozen = false;
    const { a, b, meta } = await twoNodes(
      {},
      {
        blobs: (blobs) => ({
          ...blobs,
          complete: async (handle, fileId, receipts) => {
            const ref = await blobs.complete(handle, fileId, receipts);
            frozen = true;
            enterComplete();
            await resumed;
            frozen = false;
            return ref;
          },
        }),
        meta: (store) => ({
          ...store,
          renewChunk: (...args) => (frozen ? resumed.then(() => false) : store.renewChunk(...args)),
        }),
      },
    );
    const data = randomData(cs);
    const { uploadId } = (await create(a.url, { name: 'stalled completer', size: data.length, chunkSize: cs })).body;
    const lastChunk = putChunk(a.url, uploadId, 0, data);
    await inComplete;
    // Node B takes the lapsed completion lease at a status request and finishes.
    await expect.poll(async () => (await status(b.url, uploadId)).body.state, { interval: 100, timeout: 15_000 }).toBe('complete');
    const fileId = (await status(b.url, uploadId)).body.fileId as string;
    expect((await call(b.url, 'DELETE', `/files/${fileId}`)).status).toBe(204);
    // Node A wakes up: it must not bring the deleted file's record back.
    resume();
    await lastChunk;
    expect(await meta.getFile(fileId)).toBeUndefined();
    expect((await call(a.url, 'GET', `/files/${fileId}`)).status).toBe(404);
  });

  it('both nodes sweeping expire each idle upload once, and only one sweeps at a time', async () => {
    const { a, b, meta, events } = await twoNodes({ uploadTtlSeconds: 60 });
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const data = randomData(2 * cs);
      const { uploadId } = (await create(i % 2 ? a.url : b.url, { name: `idle-${i}`, size: data.length, chunkSize: cs })).body;
      expect((await putChunk(a.url, uploadId, 0, chunkOf(data, cs, 0))).status).toBe(201);
      ids.push(uploadId);
    }
    // Time passes for both nodes (they share the store's clock through ctx.now).
    const later = Date.now() + 120_000;
    a.ctx.now = b.ctx.now = () => later;
    const results = await Promise.all([a.sweep(), b.sweep(), a.sweep(), b.sweep()]);
    expect(results.reduce((n, r) => n + r.expired, 0)).toBe(ids.length);
    // Node A took the lease first (and, holding it, may sweep again); node B, refused, did nothing at all.
    expect(results.map((r) => r.swept)).toEqual([true, false, true, false]);
    expect(results[1]).toEqual({ swept: false, expired: 0, purged: 0, retired: 0 });
    for (const id of ids) expect((await meta.getUpload(id))!.state).toBe('expired');
    expect(events.filter((e) => e.type === 'upload.expired')).toHaveLength(ids.length);
    expect(await a.ctx.blobs.listIncomplete()).toEqual([]);
  });

  it("recovery leaves another node's brand-new storage alone, and frees an orphan once it is old", async () => {
    const { a, b, blobs } = await twoNodes();
    // Node A has begun an upload's storage and is about to write its row.
    const young = randomUUID();
    const handle = await blobs.begin(young, 100, 1);
    await b.sweep();
    await a.sweep();
    expect((await blobs.listIncomplete()).map((x) => x.handle)).toEqual([handle]);
    // Ten minutes on (the default grace), nobody ever wrote its row: it is an orphan.
    const later = Date.now() + 11 * 60_000;
    b.ctx.now = () => later;
    expect((await b.sweep()).swept).toBe(true);
    expect(await blobs.listIncomplete()).toEqual([]);
  });
});
