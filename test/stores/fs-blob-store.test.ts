// The filesystem blob store: the shared contract (fsync on and off), its on-disk layout, and ENOSPC on a tiny tmpfs.
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FerryError, MiB } from '../../src/protocol/index.js';
import { mountSmallFilesystem } from '../helpers/small-fs.js';
import { FsBlobStore } from '../../src/stores/fs/blob-store.js';
import { collect, describeBlobStoreContract, pieces } from './blob-store-contract.js';

const dirs: string[] = [];

async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-blobs-'));
  dirs.push(dir);
  return dir;
}

afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describeBlobStoreContract('fs, fsync on', async () => new FsBlobStore({ dir: await freshDir(), fsync: true }));
describeBlobStoreContract('fs, fsync off', async () => new FsBlobStore({ dir: await freshDir(), fsync: false }));

describe('FsBlobStore on disk', () => {
  it('preallocates uploads/<id>.part and renames it to files/<fileId> on completion', async () => {
    const dir = await freshDir();
    const store = new FsBlobStore({ dir, fsync: true });
    const uploadId = randomUUID();
    const handle = await store.begin(uploadId, 3 * MiB, 1);
    expect(handle).toBe(uploadId);
    expect((await stat(join(dir, 'uploads', `${uploadId}.part`))).size).toBe(3 * MiB);

    const data = randomBytes(3 * MiB);
    expect(await store.putChunk(handle, { index: 0, offset: 0, length: data.byteLength }, pieces(data))).toBe('');
    const fileId = randomUUID();
    expect(await store.complete(handle, fileId, [''])).toBe(fileId);
    expect(await readdir(join(dir, 'uploads'))).toEqual([]);
    expect((await readFile(join(dir, 'files', fileId))).equals(data)).toBe(true);
  });

  it('completes when a crash came after the rename but before the metadata update', async () => {
    const dir = await freshDir();
    const store = new FsBlobStore({ dir, fsync: true });
    const uploadId = randomUUID();
    const fileId = randomUUID();
    const data = randomBytes(1000);
    await store.begin(uploadId, data.byteLength, 1);
    await store.putChunk(uploadId, { index: 0, offset: 0, length: data.byteLength }, pieces(data));
    await rename(join(dir, 'uploads', `${uploadId}.part`), join(dir, 'files', fileId));

    expect(await store.complete(uploadId, fileId, [''])).toBe(fileId);
    expect((await collect(store.read(fileId, 0, data.byteLength))).bytes.equals(data)).toBe(true);
    // but with neither the part nor the file there is nothing to complete
    await expect(store.complete(uploadId, randomUUID(), [''])).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('removes the part file on abort', async () => {
    const dir = await freshDir();
    const store = new FsBlobStore({ dir, fsync: false });
    const handle = await store.begin(randomUUID(), MiB, 1);
    await store.abort(handle);
    expect(await readdir(join(dir, 'uploads'))).toEqual([]);
  });

  it('refuses to begin an upload id twice rather than truncate its bytes', async () => {
    const dir = await freshDir();
    const store = new FsBlobStore({ dir, fsync: false });
    const uploadId = randomUUID();
    const data = randomBytes(1000);
    await store.begin(uploadId, data.byteLength, 1);
    await store.putChunk(uploadId, { index: 0, offset: 0, length: data.byteLength }, pieces(data));
    await expect(store.begin(uploadId, data.byteLength, 1)).rejects.toMatchObject({ code: 'EEXIST' });
    expect((await readFile(join(dir, 'uploads', `${uploadId}.part`))).equals(data)).toBe(true);
  });

  it('does not write a piece that would overrun the chunk into its neighbour', async () => {
    const dir = await freshDir();
    const store = new FsBlobStore({ dir, fsync: false });
    const uploadId = randomUUID();
    await store.begin(uploadId, 20, 2);
    const err = await store.putChunk(uploadId, { index: 0, offset: 0, length: 10 }, pieces(Buffer.alloc(15, 7))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FerryError);
    expect(await readFile(join(dir, 'uploads', `${uploadId}.part`))).toEqual(Buffer.alloc(20));
  });

  it('stages a stream upload’s chunks in place in the .part file, which grows from 0 when the length is deferred', async () => {
    const dir = await freshDir();
    const store = new FsBlobStore({ dir, fsync: true });
    const uploadId = randomUUID();
    const handle = await store.begin(uploadId, 0, 1000);
    const partFile = join(dir, 'uploads', `${uploadId}.part`);
    expect((await stat(partFile)).size).toBe(0);
    const data = randomBytes(3000);
    const open = (index: number) => ({ index, offset: index * 1000, length: 1000 });
    // A whole staged chunk's receipt says where it ends in the file (the last one: where the file ends).
    expect(await store.stageChunk(handle, open(0), 0, pieces(data.subarray(0, 1000)))).toEqual({ staged: 1000, receipt: 'end:1000' });
    // 900 bytes staged, of which only 100 were recorded; then 200 more from there, and the body ended.
    await store.stageChunk(handle, open(1), 0, pieces(Buffer.concat([data.subarray(1000, 1100), randomBytes(800)])));
    expect((await stat(partFile)).size).toBe(1900);
    expect(await store.stageChunk(handle, open(1), 100, pieces(data.subarray(1100, 1300)))).toEqual({ staged: 300, receipt: null });
    expect((await readFile(partFile)).subarray(0, 1300).equals(data.subarray(0, 1300))).toBe(true);
    // The length is known: 1,300 bytes.
    expect(await store.stageChunk(handle, { index: 1, offset: 1000, length: 300 }, 300, pieces(new Uint8Array(0)))).toEqual({ staged: 300, receipt: 'end:1300' });
    const fileId = randomUUID();
    await store.complete(handle, fileId, ['end:1000', 'end:1300']);
    // The bytes staged past the file's end are not left behind it.
    expect((await readFile(join(dir, 'files', fileId))).equals(data.subarray(0, 1300))).toBe(true);
  });

  it('ends a stream upload’s file at its last chunk, cutting bytes staged past it and never recorded', async () => {
    // A body refused by its checksum (460) that ran into the next chunks, then a shorter length: what
    // it staged past the new end is still in the .part file when the upload completes.
    for (const fsync of [true, false]) {
      const dir = await freshDir();
      const store = new FsBlobStore({ dir, fsync });
      const handle = await store.begin(randomUUID(), 0, 1000);
      const data = randomBytes(2500);
      const open = (index: number) => ({ index, offset: index * 1000, length: 1000 });
      const r0 = (await store.stageChunk(handle, open(0), 0, pieces(data.subarray(0, 1000)))).receipt!;
      await store.stageChunk(handle, open(1), 0, pieces(randomBytes(1000)));
      await store.stageChunk(handle, open(2), 0, pieces(randomBytes(500)));
      expect((await stat(join(dir, 'uploads', `${handle}.part`))).size).toBe(2500);
      // 1,400 bytes: the last chunk (400) is staged whole again, over the refused bytes.
      const r1 = (await store.stageChunk(handle, { index: 1, offset: 1000, length: 400 }, 0, pieces(data.subarray(1000, 1400)))).receipt!;
      const fileId = randomUUID();
      await store.complete(handle, fileId, [r0, r1]);
      expect((await stat(join(dir, 'files', fileId))).size).toBe(1400);
      expect((await readFile(join(dir, 'files', fileId))).equals(data.subarray(0, 1400))).toBe(true);
      expect(await store.complete(handle, fileId, [r0, r1])).toBe(fileId); // idempotent still
      // 1,000 bytes, said with no bytes at all after the refused ones: the file ends with chunk 0.
      const other = await store.begin(randomUUID(), 0, 1000);
      const s0 = (await store.stageChunk(other, open(0), 0, pieces(data.subarray(0, 1000)))).receipt!;
      await store.stageChunk(other, open(1), 0, pieces(randomBytes(700)));
      const otherId = randomUUID();
      await store.complete(other, otherId, [s0]);
      expect((await readFile(join(dir, 'files', otherId))).equals(data.subarray(0, 1000))).toBe(true);
    }
  });

  it('never cuts a preallocated file or a later chunk when staging a chunk', async () => {
    const dir = await freshDir();
    const store = new FsBlobStore({ dir, fsync: false });
    const uploadId = randomUUID();
    await store.begin(uploadId, 2500, 3);
    const later = randomBytes(500);
    await store.putChunk(uploadId, { index: 2, offset: 2000, length: 500 }, pieces(later));
    await store.stageChunk(uploadId, { index: 1, offset: 1000, length: 1000 }, 0, pieces(randomBytes(10)));
    const bytes = await readFile(join(dir, 'uploads', `${uploadId}.part`));
    expect(bytes.byteLength).toBe(2500);
    expect(bytes.subarray(2000).equals(later)).toBe(true);
  });

  it('rejects handles and file references that would leave the data directory', async () => {
    const store = new FsBlobStore({ dir: await freshDir(), fsync: false });
    for (const bad of ['', '..', '../escape', 'a/b', '/etc/passwd', 'a\\b', 'x\0y']) {
      await expect(store.begin(bad, 1, 1), JSON.stringify(bad)).rejects.toThrow(/plain name/);
      await expect(store.abort(bad)).rejects.toThrow(/plain name/);
      await expect(store.deleteFile(bad)).rejects.toThrow(/plain name/);
      await expect(collect(store.read(bad, 0, 1))).rejects.toThrow(/plain name/);
      await expect(store.complete('fine', bad, [])).rejects.toThrow(/plain name/);
    }
  });
});

describe('FsBlobStore on a full filesystem', () => {
  const tiny = mountSmallFilesystem('1m');
  afterAll(() => {
    if ('dir' in tiny) tiny.unmount();
  });

  it('maps ENOSPC to the insufficient-storage problem (507)', async ({ skip }) => {
    if (!('dir' in tiny)) {
      // Mounting needs root on Linux. CI has it, so there a missing tmpfs fails the test; elsewhere
      // it is skipped, saying why.
      const why = `cannot mount a 1 MiB tmpfs (${tiny.reason})`;
      if (process.env.CI === 'true') throw new Error(`The ENOSPC test must run in CI, but it ${why}`);
      return skip(why);
    }
    const dir = tiny.dir;
    const store = new FsBlobStore({ dir, fsync: true });
    const uploadId = randomUUID();
    // The part file is sparse, so a 4 MiB upload begins fine on a 1 MiB filesystem...
    const handle = await store.begin(uploadId, 4 * MiB, 1);
    // ...and fails with 507 when the bytes arrive.
    const data = randomBytes(2 * MiB);
    const err = await store.putChunk(handle, { index: 0, offset: 0, length: data.byteLength }, pieces(data)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FerryError);
    expect((err as FerryError).code).toBe('insufficient-storage');
    expect((err as FerryError).status).toBe(507);
    expect(((err as FerryError).cause as NodeJS.ErrnoException).code).toBe('ENOSPC');

    // Aborting gives the space back: a small upload fits again.
    await store.abort(handle);
    const small = randomBytes(100_000);
    const next = await store.begin(randomUUID(), small.byteLength, 1);
    await store.putChunk(next, { index: 0, offset: 0, length: small.byteLength }, pieces(small));
    await store.abort(next);
  });
});
