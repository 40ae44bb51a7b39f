// Opens the stores a configuration names (SQLite and files in the data directory by default, PostgreSQL
// and S3 for several nodes) and checks that both answer before anything is served.
import type { Logger } from 'pino';
import { openEmbeddedBlobs, openEmbeddedMeta } from './embedded.js';
import { describeMeta, describeStore, parseMetaLocation, parseStoreLocation, type MetaLocation, type StoreLocation } from './locations.js';
import { oneLine, pingBlobs, pingMeta, withDeadline } from './ping.js';
import type { BlobStore, MetaStore } from './types.js';

/** The part of the server configuration that says where things are stored. */
export interface StoresConfig {
  dataDir: string;
  fsync: boolean;
  /** postgres://… ; undefined: SQLite in the data directory. */
  meta?: string;
  /** s3://bucket/prefix ; undefined: files in the data directory. */
  store?: string;
  s3Endpoint?: string;
  s3Region?: string;
  s3PathStyle?: boolean;
  metaPoolSize?: number;
}

export interface Stores {
  meta: MetaStore;
  blobs: BlobStore;
}

/** A store that cannot be opened or does not answer; the message is one line naming the option and why. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}

/** How long start-up waits for a store's first answer: an unreachable host fails the start, not hangs it. */
const startCheckMs = 15_000;
/** Opening the database includes its schema migrations: longer, but still bounded. */
const openMetaMs = 60_000;

export async function openStores(config: StoresConfig, options: { log?: Logger } = {}): Promise<Stores> {
  const metaAt = parseMetaLocation(config.meta);
  const storeAt = parseStoreLocation(config.store);
  const meta = await openMeta(config, metaAt, options.log);
  let blobs: BlobStore | undefined;
  try {
    blobs = await openBlobs(config, storeAt);
    await Promise.all([
      withDeadline(pingMeta(meta), startCheckMs, 'the database').catch((error: unknown) => {
        throw unavailable('--meta', describeMeta(metaAt), error);
      }),
      withDeadline(pingBlobs(blobs), startCheckMs, 'the object store').catch((error: unknown) => {
        throw unavailable('--store', describeStore(storeAt), error);
      }),
    ]);
    return { meta, blobs };
  } catch (error) {
    await Promise.allSettled([meta.close(), blobs?.close()]);
    throw error;
  }
}

async function openMeta(config: StoresConfig, at: MetaLocation, log: Logger | undefined): Promise<MetaStore> {
  if (at.kind === 'sqlite') return openEmbeddedMeta(config);
  let opening: Promise<MetaStore> | undefined;
  try {
    // Loaded only when used: a single-node server never loads the PostgreSQL driver.
    const { openPostgresMetaStore } = await import('./postgres/meta-store.js');
    opening = openPostgresMetaStore(at.url, { ...(log && { log }), ...(config.metaPoolSize !== undefined && { poolSize: config.metaPoolSize }) });
    return await withDeadline(opening, openMetaMs, 'the database');
  } catch (error) {
    // Given up on: if it opens after all, its pool must not keep the process alive.
    opening?.then((late) => late.close(), () => {}).catch(() => {});
    throw unavailable('--meta', describeMeta(at), error);
  }
}

async function openBlobs(config: StoresConfig, at: StoreLocation): Promise<BlobStore> {
  if (at.kind === 'fs') return openEmbeddedBlobs(config);
  try {
    // The SDK warns on stderr, once per process, that its releases from 2027 need Node 22: news for
    // Ferry's maintainers, not for an operator (and it breaks the one-line start-up errors).
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const { openS3BlobStore } = await import('./s3/blob-store.js');
    // Credentials: the AWS SDK's default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profiles, instance roles).
    return await openS3BlobStore({
      bucket: at.bucket,
      ...(at.prefix && { prefix: at.prefix }),
      ...(config.s3Endpoint && { endpoint: config.s3Endpoint }),
      region: config.s3Region ?? 'us-east-1',
      forcePathStyle: config.s3PathStyle ?? false,
    });
  } catch (error) {
    throw unavailable('--store', describeStore(at), error);
  }
}

function unavailable(option: string, where: string, error: unknown): StoreUnavailableError {
  if (error instanceof StoreUnavailableError) return error;
  const wrapped = new StoreUnavailableError(`${option} ${where}: ${oneLine(error)}`);
  wrapped.cause = error;
  return wrapped;
}
