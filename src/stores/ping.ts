// Asking a store whether it answers, cheaply and within a deadline: start-up validation and /readyz.
import type { BlobStore, MetaStore } from './types.js';

/** A store that can say whether its service answers (PostgreSQL, S3); the message says what is wrong, in one line. */
interface Pingable {
  ping(): Promise<void>;
}

function pingable(store: object): store is Pingable {
  return 'ping' in store && typeof (store as { ping: unknown }).ping === 'function';
}

/** Throws when the metadata store does not answer. Stores without ping() (SQLite) answer one indexed read. */
export async function pingMeta(meta: MetaStore): Promise<void> {
  if (pingable(meta)) return meta.ping();
  await meta.getApiKey('readiness-probe');
}

/** Throws when the blob store does not answer. Without ping() (files), its volume is asked for its free space. */
export async function pingBlobs(blobs: BlobStore): Promise<void> {
  if (pingable(blobs)) return blobs.ping();
  await blobs.freeSpace?.();
}

export class PingTimeout extends Error {
  override name = 'PingTimeout';
}

/** `work`, or a PingTimeout after `ms` (the work itself goes on; its late failure is ignored). */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PingTimeout(`${what} did not answer within ${ms / 1000} s`)), ms);
    timer.unref();
  });
  work.catch(() => {});
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/**
 * An error as one line: Node's connection errors to a name with several addresses are an
 * AggregateError with an empty message, and some drivers put details on further lines.
 */
export function oneLine(error: unknown): string {
  const e = error as { message?: unknown; code?: unknown; errors?: unknown[] } | null;
  let text = typeof e?.message === 'string' ? e.message : '';
  if (!text && Array.isArray(e?.errors) && e.errors.length > 0) text = oneLine(e.errors[0]);
  if (!text && typeof e?.code === 'string') text = e.code;
  if (!text) text = String(error);
  return text.split('\n')[0]!.trim();
}
