// The SQLite metadata store: the shared contract, plus durability settings, schema versioning and reopening.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteMetaStore } from '../../src/stores/sqlite/meta-store.js';
import { migrations } from '../../src/stores/sqlite/schema.js';
import { describeMetaStoreContract, expectUpgradedForStreams, sampleChunk, sampleUpload } from './meta-store-contract.js';

const dirs: string[] = [];

async function freshPath(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-sqlite-'));
  dirs.push(dir);
  return join(dir, 'meta.sqlite');
}

afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describeMetaStoreContract('sqlite', async () => openSqliteMetaStore(await freshPath()));

describe('SqliteMetaStore', () => {
  it('runs with WAL, synchronous=FULL, a 5 s busy timeout, foreign keys and the latest schema', async () => {
    const store = await openSqliteMetaStore(await freshPath());
    try {
      expect(store.settings()).toEqual({
        journalMode: 'wal',
        synchronous: 2, // FULL
        busyTimeoutMs: 5000,
        foreignKeys: true,
        schemaVersion: migrations.length,
      });
    } finally {
      await store.close();
    }
  });

  it('keeps uploads, chunks, claims and files across closing and reopening the file', async () => {
    const path = await freshPath();
    const upload = sampleUpload({ metadata: { kept: true } });
    const until = Date.now() + 60_000;
    const first = await openSqliteMetaStore(path);
    await first.createUpload(upload);
    await first.recordChunk(upload.id, sampleChunk(0), upload.expiresAt + 1);
    await first.recordChunk(upload.id, sampleChunk(3, 17), upload.expiresAt + 2);
    await first.claimChunk(upload.id, 1, 'holder', until);
    await first.close();
    await first.close(); // closing twice is harmless

    const second = await openSqliteMetaStore(path);
    try {
      expect(await second.getUpload(upload.id)).toMatchObject({
        ...upload,
        chunksReceived: 2,
        bytesReceived: sampleChunk(0).size + 17,
        expiresAt: upload.expiresAt + 2,
        updatedAt: expect.any(Number),
      });
      expect(await second.listChunks(upload.id)).toEqual([sampleChunk(0), sampleChunk(3, 17)]);
      expect(await second.claimChunk(upload.id, 1, 'other', until)).toBe(false);
      expect(second.settings().schemaVersion).toBe(migrations.length);
    } finally {
      await second.close();
    }
  });

  it('shares claims and transitions between two connections to one file', async () => {
    const path = await freshPath();
    const a = await openSqliteMetaStore(path);
    const b = await openSqliteMetaStore(path);
    try {
      const upload = sampleUpload();
      await a.createUpload(upload);
      const until = Date.now() + 60_000;
      expect(await a.claimChunk(upload.id, 0, 'a', until)).toBe(true);
      expect(await b.claimChunk(upload.id, 0, 'b', until)).toBe(false);
      expect(await b.recordChunk(upload.id, sampleChunk(0), upload.expiresAt)).toMatchObject({ outcome: 'recorded', chunksReceived: 1 });
      expect(await a.recordChunk(upload.id, sampleChunk(0), upload.expiresAt)).toMatchObject({ outcome: 'exists' });
      const wins = await Promise.all([
        a.transition(upload.id, ['uploading'], 'complete', { fileId: 'f1' }),
        b.transition(upload.id, ['uploading'], 'aborted'),
      ]);
      expect(wins.filter(Boolean)).toHaveLength(1);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('uses the injected clock for claim expiry', async () => {
    let now = 1_000_000;
    const store = await openSqliteMetaStore(await freshPath(), { now: () => now });
    try {
      const upload = sampleUpload();
      await store.createUpload(upload);
      expect(await store.claimChunk(upload.id, 0, 'a', 1_000_500)).toBe(true);
      expect(await store.claimChunk(upload.id, 0, 'b', 2_000_000)).toBe(false);
      now = 1_000_500; // the claim runs until, not through, its expiry
      expect(await store.claimChunk(upload.id, 0, 'b', 2_000_000)).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('refuses a database written by a newer schema', async () => {
    const path = await freshPath();
    const db = new Database(path);
    db.pragma(`user_version = ${migrations.length + 1}`);
    db.close();
    await expect(openSqliteMetaStore(path)).rejects.toThrow(/schema version/);
  });

  it('reopens a database at the current version without re-running migrations', async () => {
    const path = await freshPath();
    const store = await openSqliteMetaStore(path);
    const upload = sampleUpload();
    await store.createUpload(upload);
    await store.close();
    const again = await openSqliteMetaStore(path);
    try {
      expect(await again.getUpload(upload.id)).toEqual(upload);
    } finally {
      await again.close();
    }
  });

  it('upgrades a database from before access control: what it holds belongs to anonymous', async () => {
    const path = await freshPath();
    const db = new Database(path);
    db.exec(migrations[0]!);
    db.pragma('user_version = 1');
    const t = Date.now();
    db.prepare(
      `INSERT INTO uploads (id, state, name, size, chunk_size, total_chunks, algorithm, metadata, blob_handle, created_at, updated_at, expires_at, file_id)
       VALUES ('u1', 'complete', 'old.iso', 5, 5, 1, 'sha-256', '{}', 'h', ?, ?, ?, 'f1')`,
    ).run(t, t, t + 1000);
    db.prepare(
      `INSERT INTO files (id, upload_id, name, size, chunk_size, total_chunks, algorithm, etag, metadata, blob_ref, created_at)
       VALUES ('f1', 'u1', 'old.iso', 5, 5, 1, 'sha-256', '"e"', '{}', 'f1', ?)`,
    ).run(t);
    db.close();
    const store = await openSqliteMetaStore(path);
    try {
      expect(store.settings().schemaVersion).toBe(migrations.length);
      expect(await store.getUpload('u1')).toMatchObject({ owner: 'anonymous', grantId: null });
      expect((await store.listFiles({ limit: 10, owner: 'anonymous' })).map((f) => f.id)).toEqual(['f1']);
    } finally {
      await store.close();
    }
  });

  it('upgrades a database from before stream uploads (schema 5): its uploads are Ferry-protocol files, nothing staged', async () => {
    const path = await freshPath();
    const db = new Database(path);
    for (const m of migrations.slice(0, 5)) db.exec(m);
    db.pragma('user_version = 5');
    const t = Date.now();
    const insert = db.prepare<[string, string, number]>(
      `INSERT INTO uploads (id, state, name, size, chunk_size, total_chunks, algorithm, metadata, blob_handle, chunks_received, bytes_received,
         created_at, updated_at, expires_at, owner, quota_key)
       VALUES (?, ?, 'old.bin', 20, 10, 2, 'sha-256', '{}', 'h', ?, 0, ${t}, ${t}, ${t + 60_000}, 'ana', 'ana')`,
    );
    insert.run('half', 'uploading', 1);
    insert.run('full', 'uploading', 2);
    db.prepare(`INSERT INTO upload_gaps (upload_id, first_idx, last_idx) VALUES ('half', 1, 1)`).run();
    db.close();

    const store = await openSqliteMetaStore(path);
    try {
      expect(store.settings().schemaVersion).toBe(migrations.length);
      await expectUpgradedForStreams(store, t + 60_000);
    } finally {
      await store.close();
    }
  });
});
