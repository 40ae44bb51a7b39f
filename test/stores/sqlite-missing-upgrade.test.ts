// Upgrading a SQLite database from before missing ranges were kept: uploads in flight get theirs from
// their chunk rows, so a status after the upgrade is what it was before it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, expect, it } from 'vitest';
import { openSqliteMetaStore } from '../../src/stores/sqlite/meta-store.js';
import { migrations } from '../../src/stores/sqlite/schema.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

it('computes the missing ranges of uploads in flight from their chunk rows', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-sqlite-'));
  dirs.push(dir);
  const path = join(dir, 'meta.sqlite');
  const db = new Database(path);
  db.exec(migrations[0]!);
  db.exec(migrations[1]!);
  db.pragma('user_version = 2');
  const t = Date.now();
  const upload = db.prepare<[string, string, number, number]>(
    `INSERT INTO uploads (id, state, name, size, chunk_size, total_chunks, algorithm, metadata, blob_handle, created_at, updated_at, expires_at)
     VALUES (?, ?, 'x.bin', ?, 1, ?, 'sha-256', '{}', 'h', ${t}, ${t}, ${t + 60_000})`,
  );
  const chunk = db.prepare<[string, number]>(`INSERT INTO chunks (upload_id, idx, size, digest, receipt) VALUES (?, ?, 1, 'sha-256=:x:', '')`);
  const add = (id: string, state: string, total: number, present: number[]) => {
    upload.run(id, state, total, total);
    for (const i of present) chunk.run(id, i);
  };
  add('holes', 'uploading', 8, [1, 2, 5]);
  add('none', 'uploading', 3, []);
  add('ends', 'uploading', 6, [0, 5]);
  add('all', 'uploading', 2, [0, 1]); // every chunk in, completion still to run
  add('done', 'complete', 2, [0, 1]);
  add('gone', 'aborted', 4, [2]);
  db.close();

  const store = await openSqliteMetaStore(path);
  try {
    expect(store.settings().schemaVersion).toBe(migrations.length);
    const missing = (id: string) => store.listMissing(id, -1, 100);
    expect(await missing('holes')).toEqual([
      { first: 0, last: 0 },
      { first: 3, last: 4 },
      { first: 6, last: 7 },
    ]);
    expect(await missing('none')).toEqual([{ first: 0, last: 2 }]);
    expect(await missing('ends')).toEqual([{ first: 1, last: 4 }]);
    expect(await missing('all')).toEqual([]);
    expect(await missing('done')).toEqual([]);
    expect(await missing('gone')).toEqual([]);
    // and they are kept from then on
    await store.recordChunk('holes', { index: 3, size: 1, digest: 'sha-256=:y:', receipt: '' }, t + 60_000);
    expect(await missing('holes')).toEqual([
      { first: 0, last: 0 },
      { first: 4, last: 4 },
      { first: 6, last: 7 },
    ]);
  } finally {
    await store.close();
  }
});
