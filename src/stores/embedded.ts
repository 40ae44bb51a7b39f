// The embedded defaults: SQLite metadata and local files, under one data directory.
import { join } from 'node:path';
import { FsBlobStore } from './fs/blob-store.js';
import { openSqliteMetaStore } from './sqlite/meta-store.js';
import type { BlobStore, MetaStore } from './types.js';

export async function openEmbeddedStores(config: { dataDir: string; fsync: boolean }): Promise<{ meta: MetaStore; blobs: BlobStore }> {
  // Commits are as durable as chunk bytes: fdatasynced (off the event loop) before any answer with
  // fsync on; with fsync off, surviving a process crash is the promise for both.
  const meta = await openSqliteMetaStore(join(config.dataDir, 'meta.sqlite'), { durability: config.fsync ? 'async' : 'process' });
  const blobs = new FsBlobStore({ dir: config.dataDir, fsync: config.fsync });
  return { meta, blobs };
}
