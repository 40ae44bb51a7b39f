// The behaviour every MetaStore backend must show; a backend is done when it passes this suite.
import { createHash, randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FerryError } from '../../src/protocol/index.js';
import { streamWriterClaim } from '../../src/stores/held-claim.js';
import type { ChunkRecord, FileRecord, MetaStore, StreamStep, UploadProtocol, UploadRecord, WebhookDelivery } from '../../src/stores/types.js';

const hour = 60 * 60 * 1000;
const chunkSize = 8 * 1024 * 1024;

export function sampleUpload(overrides: Partial<UploadRecord> = {}): UploadRecord {
  const id = overrides.id ?? randomUUID();
  const now = Date.now();
  return {
    id,
    state: 'uploading',
    name: 'holiday video.mkv',
    size: 3 * chunkSize + 17,
    chunkSize,
    totalChunks: 4,
    algorithm: 'sha-256',
    fileDigest: null,
    metadata: {},
    blobHandle: `handle-${id}`,
    chunksReceived: 0,
    bytesReceived: 0,
    createdAt: now,
    updatedAt: now,
    expiresAt: now + hour,
    fileId: null,
    owner: 'ana',
    grantId: null,
    protocol: 'ferry',
    role: 'file',
    lengthDeferred: false,
    stagedBytes: 0,
    concatOf: null,
    ...overrides,
  };
}

export function sampleChunk(index: number, size = chunkSize, seed = 'a'): ChunkRecord {
  const digest = createHash('sha256').update(`${seed}:${index}`).digest('base64');
  return { index, size, digest: `sha-256=:${digest}:`, receipt: index % 2 ? `"etag-${index}"` : '' };
}

function sampleFile(overrides: Partial<FileRecord> = {}): FileRecord {
  const id = overrides.id ?? randomUUID();
  return {
    id,
    uploadId: randomUUID(),
    name: 'report.pdf',
    size: 12345,
    chunkSize,
    totalChunks: 1,
    algorithm: 'sha-256',
    fileDigest: sampleChunk(0).digest,
    etag: '"sample-etag"',
    metadata: { owner: 'ana', tags: ['q3', 'final'], nested: { pages: 12 } },
    blobRef: id,
    createdAt: Date.now(),
    owner: 'ana',
    ...overrides,
  };
}

/**
 * A store just upgraded from before stream uploads, whose old schema held uploads 'half' (2 chunks of
 * 10 bytes, chunk 0 in, chunk 1 missing) and 'full' (both in), owner 'ana': they read as Ferry-protocol
 * files with a known length and nothing staged, and go on as before; new uploads keep the new fields.
 */
export async function expectUpgradedForStreams(store: MetaStore, expiresAt: number): Promise<void> {
  const old = { protocol: 'ferry', role: 'file', lengthDeferred: false, stagedBytes: 0 };
  expect(await store.getUpload('half')).toMatchObject({ ...old, chunksReceived: 1, owner: 'ana' });
  expect(await store.getUpload('full')).toMatchObject(old);
  expect((await store.listUnfinished(10)).map((u) => u.id)).toEqual(['full']);
  expect(await store.recordChunk('half', { index: 1, size: 10, digest: 'sha-256=:x:', receipt: '' }, expiresAt)).toMatchObject({ outcome: 'recorded', chunksReceived: 2 });
  expect(await store.listMissing('half', -1, 10)).toEqual([]);
  const stream = sampleUpload({ protocol: 'tus', role: 'part', lengthDeferred: true, stagedBytes: 3 });
  await store.createUpload(stream);
  expect(await store.getUpload(stream.id)).toEqual(stream);
}

/**
 * Runs the MetaStore contract. `open` must return a store over empty storage each time it is
 * called (a new file, schema or database); the suite closes every store it opens.
 */
export function describeMetaStoreContract(name: string, open: () => Promise<MetaStore>): void {
  describe(`MetaStore contract: ${name}`, () => {
    let store: MetaStore;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    describe('uploads', () => {
      it('returns a created upload exactly as given', async () => {
        const upload = sampleUpload({
          fileDigest: sampleChunk(9).digest,
          metadata: { owner: 'ana', tags: ['a', 'b'], nested: { n: 1, ok: true, none: null } },
          size: 1024 ** 4, // 1 TiB: sizes beyond 32 bits must survive
        });
        await store.createUpload(upload);
        expect(await store.getUpload(upload.id)).toEqual(upload);
      });

      it('returns the stream fields as given: protocol, role, deferred length, staged bytes', async () => {
        const part = sampleUpload({ protocol: 'tus', role: 'part', lengthDeferred: true, stagedBytes: 12_345 });
        const ietf = sampleUpload({ protocol: 'ietf', stagedBytes: 2 ** 33 }); // beyond 32 bits too
        const final = sampleUpload({ protocol: 'tus', concatOf: ['part-a', 'part-b'] });
        await store.createUpload(part);
        await store.createUploadWithin(ietf, { key: 'ana', maxUploads: null, maxBytes: null, maxTotalBytes: null, maxPendingBytes: null });
        expect(await store.getUpload(part.id)).toEqual(part);
        expect(await store.getUpload(ietf.id)).toEqual(ietf);
        expect(await store.listDue('uploading', Number.MAX_SAFE_INTEGER, 10)).toEqual(expect.arrayContaining([part, ietf]));
      });

      it('refuses an unknown protocol or role', async () => {
        await expect(store.createUpload(sampleUpload({ protocol: 'ftp' as UploadProtocol }))).rejects.toThrow();
        await expect(store.createUpload(sampleUpload({ role: 'whole' as UploadRecord['role'] }))).rejects.toThrow();
      });

      it('answers undefined for an unknown upload', async () => {
        expect(await store.getUpload(randomUUID())).toBeUndefined();
      });

      it('refuses a second upload with the same id', async () => {
        const upload = sampleUpload();
        await store.createUpload(upload);
        await expect(store.createUpload({ ...upload, name: 'other' })).rejects.toThrow();
        expect((await store.getUpload(upload.id))?.name).toBe(upload.name);
      });

      it('deletes an upload with its chunks and claims', async () => {
        const upload = sampleUpload();
        await store.createUpload(upload);
        await store.recordChunk(upload.id, sampleChunk(0), upload.expiresAt);
        await store.claimChunk(upload.id, 1, 'tok', Date.now() + hour);
        await store.deleteUpload(upload.id);
        expect(await store.getUpload(upload.id)).toBeUndefined();
        expect(await store.listChunks(upload.id)).toEqual([]);
        await store.deleteUpload(upload.id); // already gone: no error
      });
    });

    describe('recordChunk', () => {
      it('records chunks, counts them and slides the expiry', async () => {
        const upload = sampleUpload();
        await store.createUpload(upload);
        const later = upload.expiresAt + hour;
        const first = await store.recordChunk(upload.id, sampleChunk(2), later);
        expect(first).toEqual({ outcome: 'recorded', chunksReceived: 1, bytesReceived: chunkSize });
        const second = await store.recordChunk(upload.id, sampleChunk(0), later + 1);
        expect(second).toEqual({ outcome: 'recorded', chunksReceived: 2, bytesReceived: 2 * chunkSize });

        const stored = await store.getUpload(upload.id);
        expect(stored).toMatchObject({ chunksReceived: 2, bytesReceived: 2 * chunkSize, expiresAt: later + 1 });
        expect(stored!.updatedAt).toBeGreaterThanOrEqual(upload.updatedAt);
        expect(await store.listChunks(upload.id)).toEqual([sampleChunk(0), sampleChunk(2)]);
        expect(await store.getChunk(upload.id, 2)).toEqual(sampleChunk(2));
        expect(await store.getChunk(upload.id, 1)).toBeUndefined();
      });

      it('answers exists with the stored record and leaves the counters alone', async () => {
        const upload = sampleUpload();
        await store.createUpload(upload);
        await store.recordChunk(upload.id, sampleChunk(1), upload.expiresAt);
        const again = await store.recordChunk(upload.id, sampleChunk(1, chunkSize, 'different bytes'), upload.expiresAt + hour);
        expect(again).toEqual({ outcome: 'exists', existing: sampleChunk(1) });
        expect(await store.getUpload(upload.id)).toMatchObject({ chunksReceived: 1, bytesReceived: chunkSize, expiresAt: upload.expiresAt });
      });

      it('answers closed once the upload has left uploading, recording nothing', async () => {
        const upload = sampleUpload();
        await store.createUpload(upload);
        await store.recordChunk(upload.id, sampleChunk(0), upload.expiresAt);
        expect(await store.transition(upload.id, ['uploading'], 'aborted')).toBe(true);
        expect(await store.recordChunk(upload.id, sampleChunk(1), upload.expiresAt)).toEqual({ outcome: 'closed', state: 'aborted' });
        // closed wins over exists: nothing is accepted after the upload closed
        expect(await store.recordChunk(upload.id, sampleChunk(0), upload.expiresAt)).toEqual({ outcome: 'closed', state: 'aborted' });
        expect(await store.getUpload(upload.id)).toMatchObject({ chunksReceived: 1 });
        expect(await store.getChunk(upload.id, 1)).toBeUndefined();
      });

      it('rejects a chunk for an unknown upload with upload-not-found', async () => {
        const err = await store.recordChunk(randomUUID(), sampleChunk(0), Date.now()).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(FerryError);
        expect((err as FerryError).code).toBe('upload-not-found');
      });

      it('counts every chunk exactly once under concurrent recording', async () => {
        const upload = sampleUpload({ totalChunks: 40, size: 40 * chunkSize });
        await store.createUpload(upload);
        const indexes = Array.from({ length: 40 }, (_, i) => i);
        // every index twice, all at once
        const results = await Promise.all(
          [...indexes, ...indexes].map((i) => store.recordChunk(upload.id, sampleChunk(i), upload.expiresAt)),
        );
        expect(results.filter((r) => r.outcome === 'recorded')).toHaveLength(40);
        expect(results.filter((r) => r.outcome === 'exists')).toHaveLength(40);
        const counts = results.flatMap((r) => (r.outcome === 'recorded' ? [r.chunksReceived] : [])).sort((a, b) => a - b);
        expect(counts).toEqual(indexes.map((i) => i + 1));
        expect(await store.getUpload(upload.id)).toMatchObject({ chunksReceived: 40, bytesReceived: 40 * chunkSize });
      });
    });

    describe('advanceStream', () => {
      const later = Date.now() + 2 * hour;
      /** A tus upload of 3 chunks and 17 bytes (4 chunks), its stream writer's claim held by `token`. */
      async function stream(overrides: Partial<UploadRecord> = {}, token = 'writer'): Promise<UploadRecord> {
        const upload = sampleUpload({ protocol: 'tus', ...overrides });
        await store.createUpload(upload);
        expect(await store.claimChunk(upload.id, streamWriterClaim, token, Date.now() + hour)).toBe(true);
        return upload;
      }
      function step(from: [chunksReceived: number, stagedBytes: number], chunks: ChunkRecord[], stagedBytes: number, extra: Partial<StreamStep> = {}): StreamStep {
        return { from: { chunksReceived: from[0], stagedBytes: from[1] }, claimToken: 'writer', chunks, stagedBytes, expiresAt: later, ...extra };
      }

      it('stages bytes, records whole chunks in order, counts them, closes their gaps and slides the expiry', async () => {
        const upload = await stream();
        const first = await store.advanceStream(upload.id, step([0, 0], [], 1000, { expiresAt: later - 1 }));
        expect(first).toEqual({ outcome: 'advanced', upload: { ...upload, stagedBytes: 1000, expiresAt: later - 1, updatedAt: expect.any(Number) } });
        expect(await store.getUpload(upload.id)).toEqual(first.outcome === 'advanced' && first.upload);
        expect(await store.listMissing(upload.id, -1, 10)).toEqual([{ first: 0, last: 3 }]);

        const second = await store.advanceStream(upload.id, step([0, 1000], [sampleChunk(0), sampleChunk(1)], 5));
        expect(second).toMatchObject({ outcome: 'advanced', upload: { chunksReceived: 2, bytesReceived: 2 * chunkSize, stagedBytes: 5, expiresAt: later } });
        const stored = await store.getUpload(upload.id);
        expect(second.outcome === 'advanced' && second.upload).toEqual(stored);
        expect(stored!.updatedAt).toBeGreaterThanOrEqual(upload.updatedAt);
        expect(await store.listChunks(upload.id)).toEqual([sampleChunk(0), sampleChunk(1)]);
        expect(await store.listMissing(upload.id, -1, 10)).toEqual([{ first: 2, last: 3 }]);

        const last = await store.advanceStream(upload.id, step([2, 5], [sampleChunk(2), sampleChunk(3, 17)], 0));
        expect(last).toMatchObject({ outcome: 'advanced', upload: { chunksReceived: 4, bytesReceived: upload.size, stagedBytes: 0, state: 'uploading' } });
        expect(await store.listChunks(upload.id)).toEqual([0, 1, 2].map((i) => sampleChunk(i)).concat(sampleChunk(3, 17)));
        expect(await store.listMissing(upload.id, -1, 10)).toEqual([]);
        // Every chunk in: its completion is due.
        expect((await store.listUnfinished(10)).map((u) => u.id)).toEqual([upload.id]);
      });

      it('answers moved, changing nothing, when the counters are no longer where the writer started', async () => {
        const upload = await stream();
        await store.advanceStream(upload.id, step([0, 0], [sampleChunk(0)], 300));
        const now = (await store.getUpload(upload.id))!;
        for (const stale of [step([0, 0], [sampleChunk(0)], 10), step([1, 0], [sampleChunk(1)], 0), step([1, 299], [], 400)]) {
          expect(await store.advanceStream(upload.id, stale)).toEqual({ outcome: 'moved', upload: now });
        }
        expect(await store.getUpload(upload.id)).toEqual(now);
        expect(await store.listChunks(upload.id)).toEqual([sampleChunk(0)]);
      });

      it('answers moved, changing nothing, when a chunk it would record is already there', async () => {
        const upload = await stream();
        await store.recordChunk(upload.id, sampleChunk(1), upload.expiresAt); // chunksReceived 1, chunk 0 missing
        const now = (await store.getUpload(upload.id))!;
        expect(await store.advanceStream(upload.id, step([1, 0], [sampleChunk(1, chunkSize, 'other')], 0))).toEqual({ outcome: 'moved', upload: now });
        expect(await store.getUpload(upload.id)).toEqual(now);
        expect(await store.listChunks(upload.id)).toEqual([sampleChunk(1)]);
        expect(await store.listMissing(upload.id, -1, 10)).toEqual([
          { first: 0, last: 0 },
          { first: 2, last: 3 },
        ]);
      });

      it('lets exactly one of two writers starting from the same counters advance', async () => {
        const upload = await stream();
        const results = await Promise.all([
          store.advanceStream(upload.id, step([0, 0], [sampleChunk(0, chunkSize, 'x')], 10)),
          store.advanceStream(upload.id, step([0, 0], [sampleChunk(0, chunkSize, 'y')], 20)),
        ]);
        expect(results.map((r) => r.outcome).sort()).toEqual(['advanced', 'moved']);
        expect(await store.getUpload(upload.id)).toMatchObject({ chunksReceived: 1, bytesReceived: chunkSize });
        expect(await store.listChunks(upload.id)).toHaveLength(1);
      });

      it("answers claim-lost, changing nothing, unless the stream writer's claim carries the token (expired or not)", async () => {
        const upload = sampleUpload({ protocol: 'ietf' });
        await store.createUpload(upload);
        expect(await store.advanceStream(upload.id, step([0, 0], [sampleChunk(0)], 0))).toEqual({ outcome: 'claim-lost' });
        // A claim on another index is not the writer's.
        await store.claimChunk(upload.id, 0, 'writer', Date.now() + hour);
        expect(await store.advanceStream(upload.id, step([0, 0], [sampleChunk(0)], 0))).toEqual({ outcome: 'claim-lost' });
        await store.claimChunk(upload.id, streamWriterClaim, 'stalled', Date.now() - 1000);
        await store.claimChunk(upload.id, streamWriterClaim, 'taker', Date.now() + hour);
        expect(await store.advanceStream(upload.id, step([0, 0], [sampleChunk(0)], 0, { claimToken: 'stalled' }))).toEqual({ outcome: 'claim-lost' });
        expect(await store.getUpload(upload.id)).toEqual(upload);
        expect(await store.listChunks(upload.id)).toEqual([]);
        expect(await store.listMissing(upload.id, -1, 10)).toEqual([{ first: 0, last: 3 }]);
        expect(await store.advanceStream(upload.id, step([0, 0], [sampleChunk(0)], 0, { claimToken: 'taker' }))).toMatchObject({ outcome: 'advanced' });
        // Expired with no one taking it over: its holder still advances.
        const slow = sampleUpload({ protocol: 'tus' });
        await store.createUpload(slow);
        await store.claimChunk(slow.id, streamWriterClaim, 'writer', Date.now() - 1000);
        expect(await store.advanceStream(slow.id, step([0, 0], [], 7))).toMatchObject({ outcome: 'advanced', upload: { stagedBytes: 7 } });
      });

      it('answers closed once the upload has left uploading, or for an unknown upload', async () => {
        const upload = await stream();
        await store.advanceStream(upload.id, step([0, 0], [sampleChunk(0)], 0));
        expect(await store.transition(upload.id, ['uploading'], 'aborted')).toBe(true);
        expect(await store.advanceStream(upload.id, step([1, 0], [sampleChunk(1)], 0))).toEqual({ outcome: 'closed', state: 'aborted' });
        expect(await store.getUpload(upload.id)).toMatchObject({ chunksReceived: 1, state: 'aborted' });
        expect(await store.getChunk(upload.id, 1)).toBeUndefined();
        expect(await store.advanceStream(randomUUID(), step([0, 0], [], 1))).toEqual({ outcome: 'closed', state: undefined });
      });

      it('refuses chunks that are not the next ones in order, changing nothing', async () => {
        const upload = await stream();
        await expect(store.advanceStream(upload.id, step([0, 0], [sampleChunk(1)], 0))).rejects.toThrow(/order/);
        await expect(store.advanceStream(upload.id, step([0, 0], [sampleChunk(0), sampleChunk(2)], 0))).rejects.toThrow(/order/);
        await expect(store.advanceStream(upload.id, step([0, 0], [sampleChunk(1), sampleChunk(0)], 0))).rejects.toThrow(/order/);
        expect(await store.getUpload(upload.id)).toEqual(upload);
        expect(await store.listChunks(upload.id)).toEqual([]);
      });

      it('refuses chunks or staged bytes past the last chunk', async () => {
        const upload = await stream({ totalChunks: 2, size: 2 * chunkSize });
        await expect(store.advanceStream(upload.id, step([0, 0], [0, 1, 2].map((i) => sampleChunk(i)), 0))).rejects.toThrow();
        await expect(store.advanceStream(upload.id, step([0, 0], [sampleChunk(0), sampleChunk(1)], 1))).rejects.toThrow();
        await expect(store.advanceStream(upload.id, step([0, 0], [], chunkSize))).rejects.toThrow();
        // a chunk whose size is not its place's
        await expect(store.advanceStream(upload.id, step([0, 0], [sampleChunk(0, 5)], 0))).rejects.toThrow();
        expect(await store.getUpload(upload.id)).toEqual(upload);
        // staged bytes making a short last chunk whole
        const short = await stream({ totalChunks: 2, size: chunkSize + 17 });
        await expect(store.advanceStream(short.id, step([0, 0], [sampleChunk(0)], 17))).rejects.toThrow();
        expect(await store.advanceStream(short.id, step([0, 0], [sampleChunk(0)], 16))).toMatchObject({ outcome: 'advanced' });
      });

      it('sets a deferred length: size and chunk count, no longer deferred, the gaps past the last chunk gone', async () => {
        const max = 10;
        const upload = await stream({ lengthDeferred: true, totalChunks: max, size: max * chunkSize });
        const before = await store.advanceStream(upload.id, step([0, 0], [sampleChunk(0)], 9));
        expect(before).toMatchObject({ outcome: 'advanced', upload: { lengthDeferred: true, totalChunks: max, size: max * chunkSize } });
        // Deferred: never listed as due for completion.
        expect(await store.listMissing(upload.id, -1, 10)).toEqual([{ first: 1, last: max - 1 }]);

        const size = 2 * chunkSize + 100;
        const set = await store.advanceStream(upload.id, step([1, 9], [sampleChunk(1)], 50, { length: { size, totalChunks: 3 } }));
        expect(set).toMatchObject({ outcome: 'advanced', upload: { size, totalChunks: 3, lengthDeferred: false, chunksReceived: 2, bytesReceived: 2 * chunkSize, stagedBytes: 50 } });
        expect(await store.getUpload(upload.id)).toEqual(set.outcome === 'advanced' && set.upload);
        expect(await store.listMissing(upload.id, -1, 10)).toEqual([{ first: 2, last: 2 }]);
        // Known now: a length again is a caller's mistake.
        await expect(store.advanceStream(upload.id, step([2, 50], [], 60, { length: { size, totalChunks: 3 } }))).rejects.toThrow();
        expect(await store.listUnfinished(10)).toEqual([]);
        await store.advanceStream(upload.id, step([2, 50], [sampleChunk(2, 100)], 0));
        expect(await store.listMissing(upload.id, -1, 10)).toEqual([]);
        expect(await store.listUnfinished(10)).toMatchObject([{ id: upload.id, chunksReceived: 3, bytesReceived: size }]);
      });

      it('sets a deferred length with the last chunk, or when nothing has arrived yet', async () => {
        const whole = await stream({ lengthDeferred: true, totalChunks: 8, size: 8 * chunkSize });
        const last = await store.advanceStream(whole.id, step([0, 0], [sampleChunk(0), sampleChunk(1, 3)], 0, { length: { size: chunkSize + 3, totalChunks: 2 } }));
        expect(last).toMatchObject({ outcome: 'advanced', upload: { size: chunkSize + 3, totalChunks: 2, chunksReceived: 2, lengthDeferred: false } });
        expect(await store.listMissing(whole.id, -1, 10)).toEqual([]);
        expect((await store.listUnfinished(10)).map((u) => u.id)).toEqual([whole.id]);

        const empty = await stream({ lengthDeferred: true, totalChunks: 8, size: 8 * chunkSize });
        await store.advanceStream(empty.id, step([0, 0], [], 0, { length: { size: 0, totalChunks: 1 } }));
        expect(await store.getUpload(empty.id)).toMatchObject({ size: 0, totalChunks: 1, lengthDeferred: false });
        expect(await store.listMissing(empty.id, -1, 10)).toEqual([{ first: 0, last: 0 }]);
      });

      it('refuses a length for an upload whose length is not deferred, or beyond the most a deferred one may become', async () => {
        const known = await stream();
        await expect(store.advanceStream(known.id, step([0, 0], [sampleChunk(0)], 0, { length: { size: chunkSize, totalChunks: 1 } }))).rejects.toThrow();
        expect(await store.getUpload(known.id)).toEqual(known);
        expect(await store.listChunks(known.id)).toEqual([]);
        const deferred = await stream({ lengthDeferred: true, totalChunks: 4, size: 4 * chunkSize });
        await expect(store.advanceStream(deferred.id, step([0, 0], [], 0, { length: { size: 5 * chunkSize, totalChunks: 5 } }))).rejects.toThrow();
        // a chunk count that is not the size's
        await expect(store.advanceStream(deferred.id, step([0, 0], [], 0, { length: { size: chunkSize, totalChunks: 2 } }))).rejects.toThrow();
        expect(await store.getUpload(deferred.id)).toEqual(deferred);
      });

      it('refuses a deferred length below the offset already recorded, changing nothing', async () => {
        const upload = await stream({ lengthDeferred: true, totalChunks: 10, size: 10 * chunkSize });
        await store.advanceStream(upload.id, step([0, 0], [sampleChunk(0), sampleChunk(1)], 0));
        const now = (await store.getUpload(upload.id))!;
        // Two whole chunks recorded: the file cannot end inside the second.
        await expect(store.advanceStream(upload.id, step([2, 0], [], 0, { length: { size: chunkSize + 3, totalChunks: 2 } }))).rejects.toThrow(/below/);
        expect(await store.getUpload(upload.id)).toEqual(now);
        // 500 bytes staged: a length that makes the next chunk 100 bytes long disowns 400 of them.
        await store.advanceStream(upload.id, step([2, 0], [], 500));
        const staged = (await store.getUpload(upload.id))!;
        await expect(store.advanceStream(upload.id, step([2, 500], [sampleChunk(2, 100)], 0, { length: { size: 2 * chunkSize + 100, totalChunks: 3 } }))).rejects.toThrow(
          /below/,
        );
        expect(await store.getUpload(upload.id)).toEqual(staged);
        expect(await store.listChunks(upload.id)).toEqual([sampleChunk(0), sampleChunk(1)]);
        // The length at the offset itself: the staged bytes are the last chunk, whole.
        const set = await store.advanceStream(upload.id, step([2, 500], [sampleChunk(2, 500)], 0, { length: { size: 2 * chunkSize + 500, totalChunks: 3 } }));
        expect(set).toMatchObject({ outcome: 'advanced', upload: { size: 2 * chunkSize + 500, lengthDeferred: false, chunksReceived: 3 } });
        // With nothing staged, a length exactly at a chunk boundary.
        const even = await stream({ lengthDeferred: true, totalChunks: 10, size: 10 * chunkSize });
        await store.advanceStream(even.id, step([0, 0], [sampleChunk(0), sampleChunk(1)], 0));
        expect(await store.advanceStream(even.id, step([2, 0], [], 0, { length: { size: 2 * chunkSize, totalChunks: 2 } }))).toMatchObject({
          outcome: 'advanced',
          upload: { size: 2 * chunkSize, totalChunks: 2, lengthDeferred: false },
        });
      });

      it('refuses fewer staged bytes than recorded when no chunk is recorded with them, changing nothing', async () => {
        const upload = await stream();
        await store.advanceStream(upload.id, step([0, 0], [sampleChunk(0)], 500));
        const now = (await store.getUpload(upload.id))!;
        for (const back of [499, 0]) {
          await expect(store.advanceStream(upload.id, step([1, 500], [], back))).rejects.toThrow(/go back/);
        }
        expect(await store.getUpload(upload.id)).toEqual(now);
        // More, or a whole chunk and fewer after it, is fine.
        expect(await store.advanceStream(upload.id, step([1, 500], [], 600))).toMatchObject({ outcome: 'advanced', upload: { stagedBytes: 600 } });
        expect(await store.advanceStream(upload.id, step([1, 600], [sampleChunk(1)], 10))).toMatchObject({ outcome: 'advanced', upload: { chunksReceived: 2, stagedBytes: 10 } });
      });

      it('is reset by recordChunk: a whole chunk leaves nothing staged', async () => {
        const upload = await stream();
        await store.advanceStream(upload.id, step([0, 0], [], 77));
        expect(await store.recordChunk(upload.id, sampleChunk(0), later)).toMatchObject({ outcome: 'recorded', chunksReceived: 1 });
        expect(await store.getUpload(upload.id)).toMatchObject({ chunksReceived: 1, stagedBytes: 0 });
      });
    });

    describe('claims', () => {
      it('gives a chunk to one claimant at a time', async () => {
        const upload = sampleUpload();
        await store.createUpload(upload);
        const until = Date.now() + hour;
        expect(await store.claimChunk(upload.id, 0, 'first', until)).toBe(true);
        expect(await store.claimChunk(upload.id, 0, 'second', until)).toBe(false);
        expect(await store.claimChunk(upload.id, 1, 'second', until)).toBe(true); // other chunks are independent
        expect(await store.claimChunk(upload.id, 0, 'first', until + 1000)).toBe(true); // the holder may renew
      });

      it('lets another claimant take over an expired claim', async () => {
        const upload = sampleUpload();
        await store.createUpload(upload);
        expect(await store.claimChunk(upload.id, 0, 'crashed', Date.now() - 1000)).toBe(true);
        expect(await store.claimChunk(upload.id, 0, 'next', Date.now() + hour)).toBe(true);
        expect(await store.claimChunk(upload.id, 0, 'crashed', Date.now() + hour)).toBe(false);
      });

      it('frees a claim on release by its holder only', async () => {
        const upload = sampleUpload();
        await store.createUpload(upload);
        const until = Date.now() + hour;
        await store.claimChunk(upload.id, 0, 'holder', until);
        await store.releaseChunk(upload.id, 0, 'intruder');
        expect(await store.claimChunk(upload.id, 0, 'other', until)).toBe(false);
        await store.releaseChunk(upload.id, 0, 'holder');
        expect(await store.claimChunk(upload.id, 0, 'other', until)).toBe(true);
        await store.releaseChunk(upload.id, 5, 'nobody'); // nothing to release: no error
      });

      it('grants exactly one of many simultaneous claims', async () => {
        const upload = sampleUpload();
        await store.createUpload(upload);
        const until = Date.now() + hour;
        const wins = await Promise.all(Array.from({ length: 20 }, (_, i) => store.claimChunk(upload.id, 3, `t${i}`, until)));
        expect(wins.filter(Boolean)).toHaveLength(1);
      });

      it('records a chunk for the holder of its claim only; a writer taken over records nothing', async () => {
        const upload = sampleUpload();
        await store.createUpload(upload);
        expect(await store.claimChunk(upload.id, 0, 'stalled', Date.now() - 1000)).toBe(true);
        expect(await store.claimChunk(upload.id, 0, 'taker', Date.now() + hour)).toBe(true);
        expect(await store.recordChunk(upload.id, sampleChunk(0, chunkSize, 'old'), upload.expiresAt, 'stalled')).toEqual({ outcome: 'claim-lost' });
        expect(await store.getChunk(upload.id, 0)).toBeUndefined();
        expect((await store.getUpload(upload.id))!.chunksReceived).toBe(0);
        expect(await store.recordChunk(upload.id, sampleChunk(0, chunkSize, 'new'), upload.expiresAt, 'taker')).toMatchObject({ outcome: 'recorded', chunksReceived: 1 });
        // Once recorded, a late writer learns what is stored instead.
        expect(await store.recordChunk(upload.id, sampleChunk(0, chunkSize, 'old'), upload.expiresAt, 'stalled')).toEqual({
          outcome: 'exists',
          existing: sampleChunk(0, chunkSize, 'new'),
        });
        // A claim that expired with no one taking it over still lets its holder record.
        expect(await store.claimChunk(upload.id, 1, 'slow', Date.now() - 1000)).toBe(true);
        expect(await store.recordChunk(upload.id, sampleChunk(1), upload.expiresAt, 'slow')).toMatchObject({ outcome: 'recorded' });
        // Without a claim at all, a token is refused.
        expect(await store.recordChunk(upload.id, sampleChunk(2), upload.expiresAt, 'nobody')).toEqual({ outcome: 'claim-lost' });
      });
    });

    describe('claims of an ended upload', () => {
      it('are dropped when it completes or ends (a killed writer leaves none behind), kept while completing', async () => {
        const upload = sampleUpload({ totalChunks: 1, size: chunkSize });
        await store.createUpload(upload);
        expect(await store.claimChunk(upload.id, 0, 'killed-writer', Date.now() + hour)).toBe(true);
        await store.recordChunk(upload.id, sampleChunk(0), upload.expiresAt, 'killed-writer');
        expect(await store.transition(upload.id, ['uploading'], 'completing')).toBe(true);
        expect(await store.claimChunk(upload.id, -1, 'completer', Date.now() + hour)).toBe(true);
        expect(await store.claimChunk(upload.id, -1, 'other', Date.now() + hour)).toBe(false); // kept while completing
        expect(await store.transition(upload.id, ['completing'], 'complete', { fileId: randomUUID() })).toBe(true);
        expect(await store.renewChunk(upload.id, 0, 'killed-writer', Date.now() + hour)).toBe(false);
        expect(await store.renewChunk(upload.id, -1, 'completer', Date.now() + hour)).toBe(false);
        const other = sampleUpload();
        await store.createUpload(other);
        await store.claimChunk(other.id, 2, 'w', Date.now() + hour);
        expect(await store.transition(other.id, ['uploading'], 'aborted')).toBe(true);
        expect(await store.renewChunk(other.id, 2, 'w', Date.now() + hour)).toBe(false);
      });
    });

    describe('claim renewal', () => {
      it('extends a claim only for the token it carries, expired or not, never re-creating a released one', async () => {
        const upload = sampleUpload();
        await store.createUpload(upload);
        expect(await store.renewChunk(upload.id, 0, 'ghost', Date.now() + hour)).toBe(false); // no claim: nothing made
        expect(await store.claimChunk(upload.id, 0, 'ghost', Date.now() + hour)).toBe(true); // so it was not re-created above
        await store.releaseChunk(upload.id, 0, 'ghost');
        expect(await store.claimChunk(upload.id, 0, 'slow', Date.now() - 1000)).toBe(true);
        expect(await store.renewChunk(upload.id, 0, 'slow', Date.now() + hour)).toBe(true); // lapsed, not taken: still its own
        expect(await store.claimChunk(upload.id, 0, 'other', Date.now() + hour)).toBe(false); // the renewal holds
        await store.releaseChunk(upload.id, 0, 'slow');
        expect(await store.renewChunk(upload.id, 0, 'slow', Date.now() + hour)).toBe(false); // released: gone for good
        expect(await store.claimChunk(upload.id, 0, 'taker', Date.now() - 1000)).toBe(true);
        expect(await store.claimChunk(upload.id, 0, 'third', Date.now() + hour)).toBe(true);
        expect(await store.renewChunk(upload.id, 0, 'taker', Date.now() + hour)).toBe(false); // taken over
      });
    });

    describe('staged bytes of a chunk', () => {
      it("keeps a cut writer's count and frees its claim: the next claimant takes it at once, count and all", async () => {
        const upload = sampleUpload();
        await store.createUpload(upload);
        expect(await store.claimChunk(upload.id, 1, 'cut', Date.now() + hour)).toBe(true);
        expect(await store.stagedBytes(upload.id, 1)).toBe(0); // a new claim has nothing staged
        const kept = 3 * 2 ** 30 + 7; // past 32 bits: a number, in every backend
        expect(await store.keepStaged(upload.id, 1, 'cut', kept)).toBe(true);
        expect(await store.stagedBytes(upload.id, 1)).toBe(kept);
        expect(await store.listStaged(upload.id, 10)).toEqual([{ index: 1, bytes: kept }]);
        // The cut writer holds nothing any more: its late release and renewal change nothing.
        await store.releaseChunk(upload.id, 1, 'cut');
        expect(await store.renewChunk(upload.id, 1, 'cut', Date.now() + hour)).toBe(false);
        expect(await store.stagedBytes(upload.id, 1)).toBe(kept);
        // Its claim would have run for an hour; the next writer need not wait for that.
        expect(await store.claimChunk(upload.id, 1, 'next', Date.now() + hour)).toBe(true);
        expect(await store.claimChunk(upload.id, 1, 'third', Date.now() + hour)).toBe(false); // held again
        expect(await store.stagedBytes(upload.id, 1)).toBe(kept);
        expect(await store.renewChunk(upload.id, 1, 'next', Date.now() + hour)).toBe(true);
        expect(await store.stagedBytes(upload.id, 1)).toBe(kept); // a renewal keeps it too
        // Cut again, further on.
        expect(await store.keepStaged(upload.id, 1, 'next', kept + 100)).toBe(true);
        expect(await store.stagedBytes(upload.id, 1)).toBe(kept + 100);
      });

      it('keeps nothing for a token that does not hold the claim', async () => {
        const upload = sampleUpload();
        await store.createUpload(upload);
        const until = Date.now() + hour;
        expect(await store.claimChunk(upload.id, 0, 'holder', until)).toBe(true);
        expect(await store.keepStaged(upload.id, 0, 'intruder', 500)).toBe(false);
        await expect(store.keepStaged(upload.id, 0, 'holder', -1)).rejects.toThrow(); // no negative count, even for the holder
        expect(await store.stagedBytes(upload.id, 0)).toBe(0);
        expect(await store.claimChunk(upload.id, 0, 'other', until)).toBe(false); // still the holder's
        expect(await store.renewChunk(upload.id, 0, 'holder', until)).toBe(true);
        // A writer taken over keeps nothing either, nor its taker's count.
        expect(await store.claimChunk(upload.id, 2, 'stalled', Date.now() - 1000)).toBe(true);
        expect(await store.claimChunk(upload.id, 2, 'taker', until)).toBe(true);
        expect(await store.keepStaged(upload.id, 2, 'taker', 300)).toBe(true);
        expect(await store.claimChunk(upload.id, 2, 'after', until)).toBe(true);
        expect(await store.keepStaged(upload.id, 2, 'stalled', 900)).toBe(false);
        expect(await store.keepStaged(upload.id, 2, 'taker', 900)).toBe(false);
        expect(await store.stagedBytes(upload.id, 2)).toBe(300);
        // No claim at all: nothing is made.
        expect(await store.keepStaged(upload.id, 3, 'ghost', 500)).toBe(false);
        expect(await store.stagedBytes(upload.id, 3)).toBe(0);
        expect(await store.listStaged(upload.id, 10)).toEqual([{ index: 2, bytes: 300 }]);
      });

      it('drops the count when the writer holding the chunk releases it', async () => {
        const upload = sampleUpload();
        await store.createUpload(upload);
        await store.claimChunk(upload.id, 0, 'cut', Date.now() + hour);
        expect(await store.keepStaged(upload.id, 0, 'cut', 4096)).toBe(true);
        expect(await store.claimChunk(upload.id, 0, 'failed', Date.now() + hour)).toBe(true);
        await store.releaseChunk(upload.id, 0, 'failed');
        expect(await store.stagedBytes(upload.id, 0)).toBe(0);
        expect(await store.listStaged(upload.id, 10)).toEqual([]);
        expect(await store.claimChunk(upload.id, 0, 'fresh', Date.now() + hour)).toBe(true);
        expect(await store.stagedBytes(upload.id, 0)).toBe(0); // a new row starts from nothing
      });

      it('drops the count when the chunk is recorded; the claim stays with its writer', async () => {
        const upload = sampleUpload();
        await store.createUpload(upload);
        await store.claimChunk(upload.id, 0, 'cut', Date.now() + hour);
        await store.claimChunk(upload.id, 1, 'cut', Date.now() + hour);
        expect(await store.keepStaged(upload.id, 0, 'cut', 1000)).toBe(true);
        expect(await store.keepStaged(upload.id, 1, 'cut', 2000)).toBe(true);
        expect(await store.claimChunk(upload.id, 0, 'next', Date.now() + hour)).toBe(true);
        expect(await store.recordChunk(upload.id, sampleChunk(0), upload.expiresAt, 'next')).toMatchObject({ outcome: 'recorded', chunksReceived: 1 });
        expect(await store.stagedBytes(upload.id, 0)).toBe(0);
        expect(await store.listStaged(upload.id, 10)).toEqual([{ index: 1, bytes: 2000 }]);
        expect(await store.claimChunk(upload.id, 0, 'other', Date.now() + hour)).toBe(false); // still held by its writer
        expect(await store.renewChunk(upload.id, 0, 'next', Date.now() + hour)).toBe(true);
        // Recorded without a claim token, too.
        expect(await store.recordChunk(upload.id, sampleChunk(1), upload.expiresAt)).toMatchObject({ outcome: 'recorded', chunksReceived: 2 });
        expect(await store.stagedBytes(upload.id, 1)).toBe(0);
        expect(await store.listStaged(upload.id, 10)).toEqual([]);
      });

      it('lists a chunk only while it is not recorded', async () => {
        const upload = sampleUpload();
        await store.createUpload(upload);
        // A writer cut after another path recorded the chunk under it.
        await store.claimChunk(upload.id, 2, 'late', Date.now() + hour);
        expect(await store.recordChunk(upload.id, sampleChunk(2), upload.expiresAt)).toMatchObject({ outcome: 'recorded' });
        expect(await store.keepStaged(upload.id, 2, 'late', 700)).toBe(true);
        expect(await store.listStaged(upload.id, 10)).toEqual([]);
      });

      it('lists staged chunks by index, at most `limit`, leaving out negative indexes and other uploads', async () => {
        const upload = sampleUpload({ totalChunks: 8, size: 8 * chunkSize });
        const other = sampleUpload();
        await store.createUpload(upload);
        await store.createUpload(other);
        const until = Date.now() + hour;
        for (const [index, bytes] of [[5, 50], [0, 10], [3, 30], [-1, 99], [streamWriterClaim, 98]] as const) {
          expect(await store.claimChunk(upload.id, index, 'w', until)).toBe(true);
          expect(await store.keepStaged(upload.id, index, 'w', bytes)).toBe(true);
        }
        await store.claimChunk(upload.id, 6, 'w', until); // held, nothing staged
        await store.claimChunk(other.id, 1, 'w', until);
        await store.keepStaged(other.id, 1, 'w', 11);
        expect(await store.listStaged(upload.id, 10)).toEqual([
          { index: 0, bytes: 10 },
          { index: 3, bytes: 30 },
          { index: 5, bytes: 50 },
        ]);
        expect(await store.listStaged(upload.id, 2)).toEqual([
          { index: 0, bytes: 10 },
          { index: 3, bytes: 30 },
        ]);
        expect(await store.listStaged(other.id, 10)).toEqual([{ index: 1, bytes: 11 }]);
        expect(await store.stagedBytes(upload.id, -1)).toBe(99); // kept, just not listed
      });

      it('forgets staged counts with the claims when the upload ends', async () => {
        const upload = sampleUpload();
        await store.createUpload(upload);
        await store.claimChunk(upload.id, 0, 'cut', Date.now() + hour);
        await store.keepStaged(upload.id, 0, 'cut', 123);
        expect(await store.transition(upload.id, ['uploading'], 'aborted')).toBe(true);
        expect(await store.stagedBytes(upload.id, 0)).toBe(0);
        expect(await store.listStaged(upload.id, 10)).toEqual([]);
      });
    });

    describe('leases', () => {
      it('gives a named lease to one holder until it expires or is released, and lets it renew', async () => {
        const until = Date.now() + hour;
        expect(await store.claimLease('sweep', 'node-a', until)).toBe(true);
        expect(await store.claimLease('sweep', 'node-b', until)).toBe(false);
        expect(await store.claimLease('other', 'node-b', until)).toBe(true);
        expect(await store.claimLease('sweep', 'node-a', until + 1000)).toBe(true);
        await store.releaseLease('sweep', 'node-b'); // not its lease: nothing happens
        expect(await store.claimLease('sweep', 'node-b', until)).toBe(false);
        await store.releaseLease('sweep', 'node-a');
        expect(await store.claimLease('sweep', 'node-b', until)).toBe(true);
      });

      it('lets another holder take an expired lease, and one of many racing holders win', async () => {
        expect(await store.claimLease('sweep', 'dead', Date.now() - 1)).toBe(true);
        const wins = await Promise.all(Array.from({ length: 12 }, (_, i) => store.claimLease('sweep', `n${i}`, Date.now() + hour)));
        expect(wins.filter(Boolean)).toHaveLength(1);
        expect(await store.claimLease('sweep', 'dead', Date.now() + hour)).toBe(false);
      });
    });

    describe('transition', () => {
      it('lets exactly one of two concurrent transitions win', async () => {
        const upload = sampleUpload();
        await store.createUpload(upload);
        const fileId = randomUUID();
        const [completed, aborted] = await Promise.all([
          store.transition(upload.id, ['uploading'], 'complete', { fileId }),
          store.transition(upload.id, ['uploading'], 'aborted'),
        ]);
        expect([completed, aborted].filter(Boolean)).toHaveLength(1);
        const after = await store.getUpload(upload.id);
        expect(after?.state).toBe(completed ? 'complete' : 'aborted');
        expect(after?.fileId).toBe(completed ? fileId : null);
      });

      it('lets exactly one of many racing transitions win', async () => {
        const upload = sampleUpload();
        await store.createUpload(upload);
        const targets = ['complete', 'aborted', 'expired', 'failed'] as const;
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => store.transition(upload.id, ['uploading'], targets[i % targets.length]!)),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
      });

      it('moves only from the listed states and sets fileId and updatedAt', async () => {
        const upload = sampleUpload({ updatedAt: Date.now() - hour });
        await store.createUpload(upload);
        expect(await store.transition(upload.id, ['complete', 'aborted'], 'expired')).toBe(false);
        expect(await store.transition(upload.id, [], 'expired')).toBe(false);
        expect((await store.getUpload(upload.id))?.state).toBe('uploading');

        const fileId = randomUUID();
        expect(await store.transition(upload.id, ['failed', 'uploading'], 'complete', { fileId })).toBe(true);
        const after = await store.getUpload(upload.id);
        expect(after).toMatchObject({ state: 'complete', fileId });
        expect(after!.updatedAt).toBeGreaterThan(upload.updatedAt);

        // without a patch the file id stays
        expect(await store.transition(upload.id, ['complete'], 'expired')).toBe(true);
        expect(await store.getUpload(upload.id)).toMatchObject({ state: 'expired', fileId });
      });

      it('answers false for an unknown upload', async () => {
        expect(await store.transition(randomUUID(), ['uploading'], 'aborted')).toBe(false);
      });

      it('with dueBy, expires only an upload still due then: expired by that time and missing a chunk', async () => {
        const listedAt = Date.now();
        // Slid past dueBy by a chunk recorded after the sweeper listed it: kept.
        const slid = sampleUpload({ expiresAt: listedAt - 1000 });
        await store.createUpload(slid);
        await store.recordChunk(slid.id, sampleChunk(0), listedAt + hour);
        expect(await store.transition(slid.id, ['uploading'], 'expired', { dueBy: listedAt })).toBe(false);
        expect((await store.getUpload(slid.id))?.state).toBe('uploading');

        // Every chunk in (its completion is due, not its expiry), expiry not slid: kept.
        const full = sampleUpload({ expiresAt: listedAt - 1000, totalChunks: 2, size: 2 * sampleChunk(0).size });
        await store.createUpload(full);
        for (const i of [0, 1]) await store.recordChunk(full.id, sampleChunk(i), listedAt - 1000);
        expect(await store.transition(full.id, ['uploading'], 'expired', { dueBy: listedAt })).toBe(false);
        expect((await store.getUpload(full.id))?.state).toBe('uploading');

        // Every chunk in but never completing by itself (a tus partial upload, a deferred length): due.
        for (const never of [{ role: 'part' as const }, { lengthDeferred: true }]) {
          const u = sampleUpload({ protocol: 'tus', expiresAt: listedAt - 1000, totalChunks: 1, size: sampleChunk(0).size, ...never });
          await store.createUpload(u);
          await store.recordChunk(u.id, sampleChunk(0), listedAt - 1000);
          expect(await store.transition(u.id, ['uploading'], 'expired', { dueBy: listedAt })).toBe(true);
        }

        // Due: expired by dueBy (at it exactly too) with a chunk missing.
        for (const expiresAt of [listedAt - 1000, listedAt]) {
          const due = sampleUpload({ expiresAt });
          await store.createUpload(due);
          await store.recordChunk(due.id, sampleChunk(1), expiresAt);
          expect(await store.transition(due.id, ['uploading'], 'expired', { dueBy: listedAt })).toBe(true);
          expect((await store.getUpload(due.id))?.state).toBe('expired');
        }
      });
    });

    describe('sweeping queries', () => {
      it('lists uploads in a state whose expiry has passed, oldest first, up to the limit', async () => {
        const now = Date.now();
        const due1 = sampleUpload({ expiresAt: now - 3000 });
        const due2 = sampleUpload({ expiresAt: now - 2000 });
        const due3 = sampleUpload({ expiresAt: now - 1000 });
        const atNow = sampleUpload({ expiresAt: now }); // not before now: not due
        const future = sampleUpload({ expiresAt: now + hour });
        const abortedDue = sampleUpload({ expiresAt: now - 5000 });
        for (const u of [due3, future, due1, atNow, abortedDue, due2]) await store.createUpload(u);
        await store.transition(abortedDue.id, ['uploading'], 'aborted');

        const ids = (list: UploadRecord[]) => list.map((u) => u.id);
        expect(ids(await store.listDue('uploading', now, 10))).toEqual([due1.id, due2.id, due3.id]);
        expect(ids(await store.listDue('uploading', now, 2))).toEqual([due1.id, due2.id]);
        expect(ids(await store.listDue('aborted', now, 10))).toEqual([abortedDue.id]);
        expect(await store.listDue('complete', now, 10)).toEqual([]);
        expect((await store.listDue('uploading', now, 10))[0]).toEqual(due1);
      });

      it('lists uploads with every chunk received that are still uploading', async () => {
        const full = sampleUpload({ totalChunks: 2, size: 2 * chunkSize });
        const partial = sampleUpload({ totalChunks: 2, size: 2 * chunkSize });
        const done = sampleUpload({ totalChunks: 1, size: chunkSize });
        for (const u of [full, partial, done]) await store.createUpload(u);
        await store.recordChunk(full.id, sampleChunk(0), full.expiresAt);
        await store.recordChunk(full.id, sampleChunk(1), full.expiresAt);
        await store.recordChunk(partial.id, sampleChunk(1), partial.expiresAt);
        await store.recordChunk(done.id, sampleChunk(0), done.expiresAt);
        await store.transition(done.id, ['uploading'], 'complete', { fileId: randomUUID() });

        let unfinished = await store.listUnfinished(10);
        expect(unfinished.map((u) => u.id)).toEqual([full.id]);
        // A completion under way (or cut short) is unfinished too, and no longer takes chunks.
        expect(await store.transition(full.id, ['uploading'], 'completing')).toBe(true);
        expect(await store.recordChunk(partial.id, sampleChunk(0), partial.expiresAt)).toMatchObject({ outcome: 'recorded' });
        expect(await store.transition(partial.id, ['uploading'], 'completing')).toBe(true);
        expect(await store.recordChunk(partial.id, sampleChunk(0), partial.expiresAt)).toEqual({ outcome: 'closed', state: 'completing' });
        unfinished = await store.listUnfinished(10);
        expect(unfinished.map((u) => u.id).sort()).toEqual([full.id, partial.id].sort());
        expect(unfinished.find((u) => u.id === full.id)!.state).toBe('completing');
        expect(await store.transition(full.id, ['completing'], 'complete', { fileId: randomUUID() })).toBe(true);
        unfinished = await store.listUnfinished(10);
        expect(unfinished.map((u) => u.id)).toEqual([partial.id]);
        expect(unfinished[0]).toMatchObject({ chunksReceived: 2, bytesReceived: 2 * chunkSize });
        expect(await store.listUnfinished(0)).toEqual([]);
      });

      it('never lists a partial upload or one whose length is deferred, every chunk in or not', async () => {
        const part = sampleUpload({ protocol: 'tus', role: 'part', totalChunks: 1, size: 10 });
        const deferred = sampleUpload({ protocol: 'tus', lengthDeferred: true, totalChunks: 1, size: chunkSize });
        const file = sampleUpload({ protocol: 'tus', totalChunks: 1, size: 10 });
        for (const u of [part, deferred, file]) {
          await store.createUpload(u);
          await store.recordChunk(u.id, sampleChunk(0, u.size), u.expiresAt);
        }
        expect((await store.listUnfinished(10)).map((u) => u.id)).toEqual([file.id]);
        // Still uploading with every chunk in: due for expiry like any other when its time has passed.
        expect((await store.listDue('uploading', Number.MAX_SAFE_INTEGER, 10)).map((u) => u.id).sort()).toEqual([part.id, deferred.id, file.id].sort());
      });
    });

    describe('forgetChunks', () => {
      it('drops chunk rows and claims but keeps the upload and its counters', async () => {
        const upload = sampleUpload();
        await store.createUpload(upload);
        await store.recordChunk(upload.id, sampleChunk(0), upload.expiresAt);
        await store.recordChunk(upload.id, sampleChunk(1), upload.expiresAt);
        await store.claimChunk(upload.id, 2, 'holder', Date.now() + hour);
        await store.transition(upload.id, ['uploading'], 'aborted');

        await store.forgetChunks(upload.id);
        expect(await store.listChunks(upload.id)).toEqual([]);
        expect(await store.getChunk(upload.id, 0)).toBeUndefined();
        expect(await store.claimChunk(upload.id, 2, 'other', Date.now() + hour)).toBe(true); // the claim went too
        expect(await store.getUpload(upload.id)).toMatchObject({ state: 'aborted', chunksReceived: 2 });
        await store.forgetChunks(upload.id); // twice: no error
      });

      it('leaves other uploads alone', async () => {
        const a = sampleUpload();
        const b = sampleUpload();
        await store.createUpload(a);
        await store.createUpload(b);
        await store.recordChunk(a.id, sampleChunk(0), a.expiresAt);
        await store.recordChunk(b.id, sampleChunk(0), b.expiresAt);
        await store.forgetChunks(a.id);
        expect(await store.listChunks(b.id)).toEqual([sampleChunk(0)]);
      });
    });

    describe('files', () => {
      it('returns a created file exactly as given', async () => {
        const file = sampleFile();
        await store.createFile(file);
        expect(await store.getFile(file.id)).toEqual(file);
        expect(await store.getFile(randomUUID())).toBeUndefined();
        const noDigest = sampleFile({ fileDigest: null, metadata: {} });
        await store.createFile(noDigest);
        expect(await store.getFile(noDigest.id)).toEqual(noDigest);
      });

      it('refuses a second file with the same id', async () => {
        const file = sampleFile();
        await store.createFile(file);
        await expect(store.createFile({ ...file, name: 'other' })).rejects.toThrow();
      });

      it('lists files newest first, up to the limit', async () => {
        const t = Date.now();
        const files = [0, 1, 2].map((i) => sampleFile({ createdAt: t + i * 1000 }));
        for (const f of [files[1]!, files[0]!, files[2]!]) await store.createFile(f);
        expect(await store.listFiles({ limit: 10 })).toEqual([files[2], files[1], files[0]]);
        expect((await store.listFiles({ limit: 2 })).map((f) => f.id)).toEqual([files[2]!.id, files[1]!.id]);
      });

      it('pages through files after a position, also among files of the same time, without skipping or repeating', async () => {
        const t = Date.now();
        const files = Array.from({ length: 7 }, (_, i) => sampleFile({ createdAt: t + Math.floor(i / 3) * 1000 }));
        for (const f of files) await store.createFile(f);
        const seen: string[] = [];
        let after: { createdAt: number; id: string } | undefined;
        for (;;) {
          const page = await store.listFiles({ limit: 2, after });
          if (page.length === 0) break;
          seen.push(...page.map((f) => f.id));
          const last = page[page.length - 1]!;
          after = { createdAt: last.createdAt, id: last.id };
        }
        expect(seen).toHaveLength(7);
        expect(new Set(seen)).toEqual(new Set(files.map((f) => f.id)));
      });

      it("lists one owner's files, or those created before a time", async () => {
        const t = Date.now();
        const ana = sampleFile({ createdAt: t, owner: 'ana' });
        const bo = sampleFile({ createdAt: t + 1000, owner: 'bo' });
        const old = sampleFile({ createdAt: t - 5000, owner: 'bo' });
        for (const f of [ana, bo, old]) await store.createFile(f);
        expect((await store.listFiles({ limit: 10, owner: 'bo' })).map((f) => f.id)).toEqual([bo.id, old.id]);
        expect((await store.listFiles({ limit: 10, owner: 'cy' })).map((f) => f.id)).toEqual([]);
        expect((await store.listFiles({ limit: 10, createdBefore: t })).map((f) => f.id)).toEqual([old.id]);
      });

      it('deletes a file with its upload and chunk rows, once, and writes its events only when it did', async () => {
        const upload = sampleUpload();
        await store.createUpload(upload);
        await store.recordChunk(upload.id, sampleChunk(0), upload.expiresAt);
        const file = sampleFile({ uploadId: upload.id });
        await store.createFile(file);
        await store.transition(upload.id, ['uploading'], 'complete', { fileId: file.id });
        expect(await store.deleteFile(file.id, [delivery('evt-del-1')])).toEqual(file);
        expect(await store.getFile(file.id)).toBeUndefined();
        expect(await store.getUpload(upload.id)).toBeUndefined();
        expect(await store.listChunks(upload.id)).toEqual([]);
        expect(await store.deleteFile(file.id, [delivery('evt-del-2')])).toBeUndefined();
        const due = await store.claimDeliveries(Date.now() + 1, Date.now() + hour, 10);
        expect(due.map((d) => d.eventId)).toEqual(['evt-del-1']);
      });

      it('keeps a file after its upload row is deleted', async () => {
        const upload = sampleUpload();
        await store.createUpload(upload);
        const file = sampleFile({ uploadId: upload.id });
        await store.createFile(file);
        await store.transition(upload.id, ['uploading'], 'complete', { fileId: file.id });
        await store.deleteUpload(upload.id);
        expect(await store.getFile(file.id)).toEqual(file);
      });
    });

    describe('API keys', () => {
      const key = (id: string, identity = 'ana') => ({ id, secretHash: `hash-${id}`, identity, role: 'user' as const, label: 'ci', createdAt: Date.now(), revokedAt: null });

      it('stores, finds, lists and revokes keys', async () => {
        const k1 = key('k1');
        await store.createApiKey(k1);
        await store.createApiKey({ ...key('k2', 'root'), role: 'admin' });
        expect(await store.getApiKey('k1')).toEqual(k1);
        expect(await store.getApiKey('nope')).toBeUndefined();
        expect((await store.listApiKeys()).map((k) => [k.id, k.role])).toEqual([
          ['k1', 'user'],
          ['k2', 'admin'],
        ]);
        expect(await store.revokeApiKey('k1', 1234)).toBe(true);
        expect(await store.revokeApiKey('k1', 5678)).toBe(false);
        expect(await store.revokeApiKey('nope', 1)).toBe(false);
        expect((await store.getApiKey('k1'))!.revokedAt).toBe(1234);
      });

      it('refuses a second key with the same id', async () => {
        await store.createApiKey(key('k1'));
        await expect(store.createApiKey(key('k1', 'bo'))).rejects.toThrow();
      });
    });

    describe('reservations', () => {
      const none = { maxUploads: null, maxBytes: null, maxTotalBytes: null, maxPendingBytes: null };

      it('counts the declared sizes of uploads in progress, per key and in all, until they end', async () => {
        const a = sampleUpload({ owner: 'ana', size: 100 });
        const b = sampleUpload({ owner: 'ana', size: 50 });
        const c = sampleUpload({ owner: 'ben', size: 7 });
        expect((await store.createUploadWithin(a, { ...none, key: 'ana' })).ok).toBe(true);
        expect((await store.createUploadWithin(b, { ...none, key: 'ana' })).ok).toBe(true);
        await store.createUpload(c); // a plain create counts against its owner
        await store.recordChunk(a.id, sampleChunk(0, 30), a.expiresAt);
        expect(await store.reservations('ana')).toEqual({ uploads: 2, bytes: 150, totalBytes: 157, pendingBytes: 127 });
        expect(await store.reservations('ben')).toEqual({ uploads: 1, bytes: 7, totalBytes: 157, pendingBytes: 127 });
        expect(await store.reservations('nobody')).toEqual({ uploads: 0, bytes: 0, totalBytes: 157, pendingBytes: 127 });

        await store.transition(a.id, ['uploading'], 'complete');
        await store.transition(b.id, ['uploading'], 'aborted');
        expect(await store.reservations('ana')).toEqual({ uploads: 0, bytes: 0, totalBytes: 7, pendingBytes: 7 });
      });

      it('counts an upload against the key it was created under, not its owner', async () => {
        const u = sampleUpload({ owner: 'anonymous', size: 10 });
        await store.createUploadWithin(u, { ...none, key: 'address:192.0.2.1' });
        expect(await store.reservations('address:192.0.2.1')).toMatchObject({ uploads: 1, bytes: 10 });
        expect(await store.reservations('anonymous')).toMatchObject({ uploads: 0, bytes: 0, totalBytes: 10 });
        expect((await store.getUpload(u.id))?.owner).toBe('anonymous');
      });

      it('refuses an upload that would pass a limit, naming the first one, and stores nothing (no events either)', async () => {
        await store.createUploadWithin(sampleUpload({ size: 60 }), { ...none, key: 'ana' });
        const cases = [
          [{ maxUploads: 1 }, 'uploads'],
          [{ maxBytes: 100 }, 'bytes'],
          [{ maxTotalBytes: 99 }, 'total-bytes'],
          [{ maxPendingBytes: 100 }, 'pending-bytes'],
          [{ maxUploads: 1, maxBytes: 10 }, 'uploads'],
        ] as const;
        for (const [limits, limit] of cases) {
          const u = sampleUpload({ size: 41 });
          const now = Date.now();
          const result = await store.createUploadWithin(u, { ...none, ...limits, key: 'ana' }, [delivery(`e-${limit}`, now)]);
          expect(result).toEqual({ ok: false, limit, reserved: { uploads: 1, bytes: 60, totalBytes: 60, pendingBytes: 60 } });
          expect(await store.getUpload(u.id)).toBeUndefined();
          expect(await store.claimDeliveries(now, now + 1000, 10)).toEqual([]);
        }
        const fits = sampleUpload({ size: 40 });
        expect(await store.createUploadWithin(fits, { key: 'ana', maxUploads: 2, maxBytes: 100, maxTotalBytes: 100, maxPendingBytes: 100 })).toMatchObject({ ok: true });
        expect(await store.getUpload(fits.id)).toMatchObject({ id: fits.id, size: 40, state: 'uploading' });
      });

      it('writes its events with the upload, and leaves every chunk missing as createUpload does', async () => {
        const now = Date.now();
        const u = sampleUpload();
        await store.createUploadWithin(u, { ...none, key: 'ana' }, [delivery('created', now)]);
        expect((await store.claimDeliveries(now, now + 1000, 10)).map((d) => d.eventId)).toEqual(['created']);
        expect(await store.recordChunk(u.id, sampleChunk(0), u.expiresAt)).toMatchObject({ outcome: 'recorded', chunksReceived: 1 });
      });

      it('never lets concurrent creates pass a limit', async () => {
        const results = await Promise.all(
          Array.from({ length: 20 }, () => store.createUploadWithin(sampleUpload({ size: 10 }), { ...none, key: 'ana', maxBytes: 55 })),
        );
        expect(results.filter((r) => r.ok)).toHaveLength(5);
        expect(await store.reservations('ana')).toMatchObject({ uploads: 5, bytes: 50 });
        const counted = await Promise.all(
          Array.from({ length: 20 }, () => store.createUploadWithin(sampleUpload({ size: 0 }), { ...none, key: 'ben', maxUploads: 3 })),
        );
        expect(counted.filter((r) => r.ok)).toHaveLength(3);
      });
    });

    describe('grant budgets', () => {
      const limits = { maxBytes: 100, maxFiles: 3 };
      it('takes bytes and files only while both stay within the limits', async () => {
        const later = Date.now() + hour;
        expect(await store.reserveGrant('g1', 60, limits, later)).toEqual({ ok: true, used: { bytes: 0, files: 0 } });
        expect(await store.reserveGrant('g1', 50, limits, later)).toEqual({ ok: false, used: { bytes: 60, files: 1 } });
        expect(await store.reserveGrant('g1', 40, limits, later)).toEqual({ ok: true, used: { bytes: 60, files: 1 } });
        expect(await store.reserveGrant('g1', 0, limits, later)).toEqual({ ok: true, used: { bytes: 100, files: 2 } });
        expect(await store.reserveGrant('g1', 0, limits, later)).toEqual({ ok: false, used: { bytes: 100, files: 3 } });
        expect(await store.reserveGrant('g2', 101, { maxBytes: 100, maxFiles: null }, later)).toEqual({ ok: false, used: { bytes: 0, files: 0 } });
      });

      it('gives back what is released, and forgets expired grants', async () => {
        const soon = Date.now() + 1000;
        await store.reserveGrant('g1', 80, limits, soon);
        await store.releaseGrant('g1', 80);
        expect((await store.reserveGrant('g1', 100, limits, soon)).ok).toBe(true);
        expect(await store.purgeGrants(soon + 1)).toBe(1);
        expect(await store.reserveGrant('g1', 1, limits, soon)).toEqual({ ok: true, used: { bytes: 0, files: 0 } });
      });

      it('never lets concurrent reservations overspend', async () => {
        const later = Date.now() + hour;
        const results = await Promise.all(Array.from({ length: 20 }, () => store.reserveGrant('g1', 10, { maxBytes: 55, maxFiles: null }, later)));
        expect(results.filter((r) => r.ok)).toHaveLength(5);
      });
    });

    describe('shared secrets', () => {
      it('creates a secret once and returns it ever after', async () => {
        const first = await store.sharedSecret('share', () => 'one');
        expect(first).toBe('one');
        expect(await store.sharedSecret('share', () => 'two')).toBe('one');
        expect(await store.sharedSecret('other', () => 'three')).toBe('three');
      });
    });

    describe('webhook outbox', () => {
      it('hands out due deliveries once per lease, again after the lease, until done', async () => {
        const now = Date.now();
        await store.enqueueDeliveries([delivery('e1', now), delivery('e2', now + hour)]);
        const first = await store.claimDeliveries(now, now + 1000, 10);
        expect(first.map((d) => d.eventId)).toEqual(['e1']);
        expect(first[0]).toMatchObject({ endpoint: 'http://127.0.0.1:9/hook', type: 'upload.created', payload: '{"id":"e1"}', attempts: 0 });
        expect(await store.claimDeliveries(now + 500, now + 1500, 10)).toEqual([]);
        const again = await store.claimDeliveries(now + 1000, now + 2000, 10);
        expect(again.map((d) => d.eventId)).toEqual(['e1']);
        await store.deliveryDone('e1', 'http://127.0.0.1:9/hook');
        expect(await store.claimDeliveries(now + 5000, now + 6000, 10)).toEqual([]);
      });

      it('reschedules a failed delivery with its attempt counted, or drops it', async () => {
        const now = Date.now();
        await store.enqueueDeliveries([delivery('e1', now), delivery('e2', now)]);
        await store.claimDeliveries(now, now + 1000, 10);
        await store.deliveryFailed('e1', 'http://127.0.0.1:9/hook', now + 50, 'HTTP 500');
        await store.deliveryFailed('e2', 'http://127.0.0.1:9/hook', null, 'gave up');
        const due = await store.claimDeliveries(now + 50, now + 1000, 10);
        expect(due.map((d) => [d.eventId, d.attempts])).toEqual([['e1', 1]]);
      });

      it('writes the events of a state change only when the change happens', async () => {
        const now = Date.now();
        const upload = sampleUpload();
        await store.createUpload(upload, [delivery('created', now)]);
        expect(await store.transition(upload.id, ['uploading'], 'aborted', {}, [delivery('aborted', now)])).toBe(true);
        expect(await store.transition(upload.id, ['uploading'], 'expired', {}, [delivery('expired', now)])).toBe(false);
        const due = await store.claimDeliveries(now, now + 1000, 10);
        expect(due.map((d) => d.eventId).sort()).toEqual(['aborted', 'created']);
      });

      it('writes nothing when the upload it reports cannot be created', async () => {
        const now = Date.now();
        const upload = sampleUpload();
        await store.createUpload(upload);
        await expect(store.createUpload(upload, [delivery('dup', now)])).rejects.toThrow();
        expect(await store.claimDeliveries(now, now + 1000, 10)).toEqual([]);
      });
    });

    describe('chunk pages and missing ranges', () => {
      it('lists chunks a page at a time, from an index on', async () => {
        const upload = sampleUpload({ totalChunks: 10, size: 10 * chunkSize });
        await store.createUpload(upload);
        for (const i of [7, 0, 3, 4, 9]) await store.recordChunk(upload.id, sampleChunk(i), upload.expiresAt);
        expect(await store.listChunks(upload.id, { from: 0, limit: 2 })).toEqual([sampleChunk(0), sampleChunk(3)]);
        expect(await store.listChunks(upload.id, { from: 4, limit: 2 })).toEqual([sampleChunk(4), sampleChunk(7)]);
        expect(await store.listChunks(upload.id, { from: 8, limit: 5 })).toEqual([sampleChunk(9)]);
        expect(await store.listChunks(upload.id, { from: 10, limit: 5 })).toEqual([]);
      });

      it('starts an upload with every chunk missing and closes the gaps as chunks arrive', async () => {
        const upload = sampleUpload({ totalChunks: 10, size: 10 * chunkSize });
        await store.createUpload(upload);
        expect(await store.listMissing(upload.id, -1, 100)).toEqual([{ first: 0, last: 9 }]);
        for (const i of [0, 5, 9, 3]) await store.recordChunk(upload.id, sampleChunk(i), upload.expiresAt);
        expect(await store.listMissing(upload.id, -1, 100)).toEqual([
          { first: 1, last: 2 },
          { first: 4, last: 4 },
          { first: 6, last: 8 },
        ]);
        // a duplicate changes nothing; pages after a range's first index
        await store.recordChunk(upload.id, sampleChunk(5), upload.expiresAt);
        expect(await store.listMissing(upload.id, -1, 2)).toEqual([
          { first: 1, last: 2 },
          { first: 4, last: 4 },
        ]);
        expect(await store.listMissing(upload.id, 4, 2)).toEqual([{ first: 6, last: 8 }]);
        for (const i of [1, 2, 4, 6, 7, 8]) await store.recordChunk(upload.id, sampleChunk(i), upload.expiresAt);
        expect(await store.listMissing(upload.id, -1, 100)).toEqual([]);
        expect(await store.listMissing(randomUUID(), -1, 100)).toEqual([]);
      });

      it('keeps the missing ranges exact under concurrent recording', async () => {
        const upload = sampleUpload({ totalChunks: 200, size: 200 * chunkSize });
        await store.createUpload(upload);
        const odd = Array.from({ length: 100 }, (_, i) => 2 * i + 1);
        await Promise.all([...odd, ...odd].map((i) => store.recordChunk(upload.id, sampleChunk(i), upload.expiresAt)));
        const missing = await store.listMissing(upload.id, -1, 1000);
        expect(missing).toEqual(Array.from({ length: 100 }, (_, i) => ({ first: 2 * i, last: 2 * i })));
      });

      it('records nothing in the missing ranges of a closed upload, and forgets them with its chunks', async () => {
        const upload = sampleUpload();
        await store.createUpload(upload);
        await store.recordChunk(upload.id, sampleChunk(1), upload.expiresAt);
        await store.transition(upload.id, ['uploading'], 'aborted');
        await store.recordChunk(upload.id, sampleChunk(2), upload.expiresAt);
        expect(await store.listMissing(upload.id, -1, 10)).toEqual([
          { first: 0, last: 0 },
          { first: 2, last: 3 },
        ]);
        await store.forgetChunks(upload.id);
        expect(await store.listMissing(upload.id, -1, 10)).toEqual([]);
      });
    });

    describe('stored manifests', () => {
      it('stores the parts of a file manifest, and counts it only once sealed', async () => {
        const file = sampleFile();
        await store.createFile(file);
        const parts = [Buffer.from('[{"index":0}'), Buffer.from(',{"index":1}]')];
        expect(await store.putManifestPart(file.id, 0, parts[0]!)).toBe(true);
        expect(await store.putManifestPart(file.id, 1, parts[1]!)).toBe(true);
        expect(await store.getManifest(file.id)).toBeUndefined();
        expect(await store.sealManifest(file.id, { parts: 2, bytes: 25 })).toBe(true);
        expect(await store.getManifest(file.id)).toEqual({ parts: 2, bytes: 25 });
        expect(Buffer.from((await store.getManifestPart(file.id, 0))!)).toEqual(parts[0]);
        expect(Buffer.from((await store.getManifestPart(file.id, 1))!)).toEqual(parts[1]);
        expect(await store.getManifestPart(file.id, 2)).toBeUndefined();
        // writing the same parts again (a second builder) is harmless
        expect(await store.putManifestPart(file.id, 1, parts[1]!)).toBe(true);
        expect(await store.sealManifest(file.id, { parts: 2, bytes: 25 })).toBe(true);
        expect(await store.getManifest(file.id)).toEqual({ parts: 2, bytes: 25 });
      });

      it('stores no manifest for a file that does not exist, and drops it with its file', async () => {
        const ghost = randomUUID();
        expect(await store.putManifestPart(ghost, 0, Buffer.from('[]'))).toBe(false);
        expect(await store.sealManifest(ghost, { parts: 1, bytes: 2 })).toBe(false);
        expect(await store.getManifest(ghost)).toBeUndefined();
        expect(await store.getManifestPart(ghost, 0)).toBeUndefined();

        const file = sampleFile();
        await store.createFile(file);
        await store.putManifestPart(file.id, 0, Buffer.from('[]'));
        await store.sealManifest(file.id, { parts: 1, bytes: 2 });
        await store.deleteFile(file.id);
        expect(await store.getManifest(file.id)).toBeUndefined();
        expect(await store.getManifestPart(file.id, 0)).toBeUndefined();
        // a file created again under the same id starts without one
        await store.createFile(file);
        expect(await store.getManifest(file.id)).toBeUndefined();
      });
    });
  });
}

function delivery(eventId: string, at = Date.now()): WebhookDelivery {
  return { eventId, endpoint: 'http://127.0.0.1:9/hook', type: 'upload.created', payload: JSON.stringify({ id: eventId }), createdAt: at, attempts: 0, nextAttemptAt: at };
}
