// What every route needs: configuration, the two stores, the logger, locks, counters and hooks.
import type { Logger } from 'pino';
import type { GrantKey } from '../grants/index.js';
import type { BlobStore, FileRecord, MetaStore } from '../stores/types.js';
import type { ServerConfig } from './config.js';
import type { EventListener } from './events.js';
import type { PreCreateHook } from './hooks.js';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { ChunkWrites } from './chunk-lease.js';
import { GoneWrites } from './gone-writes.js';
import { Metrics } from './metrics.js';

export interface ServerContext {
  config: ServerConfig;
  meta: MetaStore;
  blobs: BlobStore;
  log: Logger;
  /** Names this server process in the leases it takes (host, pid and a random tag: unique per start). */
  nodeId: string;
  /** Chunk writes in progress here (observability; the leases in the metadata store coordinate). */
  chunkWrites: ChunkWrites;
  /** Chunk writes here by upload: status waits for those whose client has gone (see gone-writes.ts). */
  goneWrites: GoneWrites;
  /**
   * Completions this process is running, so its own concurrent callers share one run and a clean
   * shutdown can wait for them. Not coordination: the completion lease in the metadata store is.
   */
  completions: Map<string, Promise<FileRecord | null>>;
  metrics: Metrics;
  now: () => number;
  /** Absolute base URL for links made outside a request (events): --public-url, else the listening URL. */
  baseUrl: string;
  /** Library listeners of upload and file events (the embedding application's). */
  listeners: EventListener[];
  /** Hooks asked before an upload is created (the library's callback, the HTTP hook), in order. */
  preCreate: PreCreateHook[];
  /** Secrets that verify grants: the configured ones and the share-link key. */
  grantKeys: GrantKey[];
  /** The key share links are signed with. */
  shareKey: GrantKey | null;
  /** The webhook dispatcher, told when new deliveries are due (absent while none is running). */
  webhooks?: { wake(): void };
}

export function createContext(config: ServerConfig, meta: MetaStore, blobs: BlobStore, log: Logger): ServerContext {
  return {
    config,
    meta,
    blobs,
    log,
    nodeId: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
    chunkWrites: new ChunkWrites(),
    goneWrites: new GoneWrites(),
    completions: new Map(),
    metrics: new Metrics(),
    now: () => Date.now(),
    baseUrl: config.publicUrl?.replace(/\/+$/, '') ?? '',
    listeners: [],
    preCreate: [],
    grantKeys: [...config.grantSecrets],
    shareKey: null,
  };
}
