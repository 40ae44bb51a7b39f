// Where the stores live, as operators write it (--meta postgres://…, --store s3://bucket/prefix): parsing, and a form safe to log.

/** The metadata store: the embedded SQLite of the data directory, or a PostgreSQL database. */
export type MetaLocation = { kind: 'sqlite' } | { kind: 'postgres'; url: string };

/** The blob store: files in the data directory, or a bucket (and key prefix) of an S3 service. */
export type StoreLocation = { kind: 'fs' } | { kind: 's3'; bucket: string; prefix: string };

/** Thrown for a location Ferry cannot use; the message names the option and never repeats a password. */
export class LocationError extends Error {
  override name = 'LocationError';
}

/** `--meta`: undefined (SQLite in the data directory) or a postgres:// or postgresql:// URL. */
export function parseMetaLocation(text: string | undefined): MetaLocation {
  if (text === undefined || text === '') return { kind: 'sqlite' };
  if (!/^postgres(?:ql)?:\/\//i.test(text)) {
    throw new LocationError(`--meta must be a postgres:// (or postgresql://) URL, got ${schemeOf(text)}`);
  }
  if (!parseUrl(text)) {
    throw new LocationError('--meta is not a valid URL (percent-encode special characters in the user name and password)');
  }
  return { kind: 'postgres', url: text };
}

/** `--store`: undefined (files in the data directory) or s3://bucket[/prefix]. */
export function parseStoreLocation(text: string | undefined): StoreLocation {
  if (text === undefined || text === '') return { kind: 'fs' };
  const m = /^s3:\/\/([^/?#]+)(?:\/([^?#]*))?$/i.exec(text);
  if (!m) throw new LocationError(`--store must be s3://bucket or s3://bucket/prefix, got ${schemeOf(text)}`);
  const bucket = m[1]!;
  if (!isBucketName(bucket)) {
    throw new LocationError(`--store: "${bucket}" is not a bucket name (3-63 characters: lowercase letters, digits, dots, hyphens)`);
  }
  // Keys are joined as prefix + '/' + name: one slash between, none at the start.
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '').replace(/\/{2,}/g, '/');
  return { kind: 's3', bucket, prefix };
}

/**
 * The bucket-name rules S3 and its look-alikes share (3-63 characters: lowercase letters, digits, dots,
 * hyphens; a letter or digit at each end); anything else would fail later with a less clear error.
 */
export function isBucketName(name: string): boolean {
  return /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name);
}

/** The metadata store as the logs name it: no user, password or query (a password may hide in either). */
export function describeMeta(location: MetaLocation): string {
  if (location.kind === 'sqlite') return 'sqlite';
  const url = new URL(location.url);
  return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
}

export function describeStore(location: StoreLocation): string {
  if (location.kind === 'fs') return 'data-dir';
  return `s3://${location.bucket}${location.prefix ? `/${location.prefix}` : ''}`;
}

/** What a refused location started with, quoted; never more (the rest may hold a password). */
function schemeOf(text: string): string {
  const m = /^([a-z][a-z0-9+.-]*):/i.exec(text);
  return m ? `"${m[1]}:"` : 'no URL scheme';
}

function parseUrl(text: string): URL | null {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}
