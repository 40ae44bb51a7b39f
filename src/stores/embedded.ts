// The embedded defaults: SQLite metadata and local files, under one data directory.
import { join } from 'node:path';
import { FsBlobStore } from './fs/blob-store.js';
import { openSqliteMetaStore } from './sqlite/meta-store.js';
import type { BlobStore, MetaStore } from './types.js';

export interface EmbeddedConfig {
  dataDir: string;
  fsync: boolean;
}

export async function openEmbeddedStores(config: EmbeddedConfig): Promise<{ meta: MetaStore; blobs: BlobStore }> {
  const meta = await openEmbeddedMeta(config);
  return { meta, blobs: openEmbeddedBlobs(config) };
}

/** `<dataDir>/meta.sqlite`, created and migrated when needed. */
export function openEmbeddedMeta(config: EmbeddedConfig): Promise<MetaStore> {
  // Commits are as durable as chunk bytes: fdatasynced (off the event loop) before any answer with
  // fsync on; with fsync off, surviving a process crash is the promise for both.
  return openSqliteMetaStore(join(config.dataDir, 'meta.sqlite'), { durability: config.fsync ? 'async' : 'process' });
}

/** `<dataDir>/uploads/` and `<dataDir>/files/`. */
export function openEmbeddedBlobs(config: EmbeddedConfig): BlobStore {
  return new FsBlobStore({ dir: config.dataDir, fsync: config.fsync });
}
