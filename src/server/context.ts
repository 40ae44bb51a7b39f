// What every route needs: configuration, the two stores, the logger, locks and counters.
import type { Logger } from 'pino';
import type { BlobStore, FileRecord, MetaStore } from '../stores/types.js';
import type { ServerConfig } from './config.js';
import { KeyedLock } from './keyed-lock.js';
import { Metrics } from './metrics.js';

export interface ServerContext {
  config: ServerConfig;
  meta: MetaStore;
  blobs: BlobStore;
  log: Logger;
  /** One writer per chunk within this process. */
  chunkLocks: KeyedLock;
  /** Completions running in this process, so concurrent last chunks share one. */
  completions: Map<string, Promise<FileRecord>>;
  metrics: Metrics;
  now: () => number;
}

export function createContext(config: ServerConfig, meta: MetaStore, blobs: BlobStore, log: Logger): ServerContext {
  return {
    config,
    meta,
    blobs,
    log,
    chunkLocks: new KeyedLock(),
    completions: new Map(),
    metrics: new Metrics(),
    now: () => Date.now(),
  };
}
