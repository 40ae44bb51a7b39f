// The embedded defaults: SQLite metadata and local files, under one data directory.
import { join } from 'node:path';
import { FsBlobStore } from './fs/blob-store.js';
import { openSqliteMetaStore } from './sqlite/meta-store.js';
import type { BlobStore, MetaStore } from './types.js';

export async function openEmbeddedStores(config: { dataDir: string; fsync: boolean }): Promise<{ meta: MetaStore; blobs: BlobStore }> {
  const meta = await openSqliteMetaStore(join(config.dataDir, 'meta.sqlite'));
  const blobs = new FsBlobStore({ dir: config.dataDir, fsync: config.fsync });
  return { meta, blobs };
}
