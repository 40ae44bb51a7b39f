// tus 1.0.0 header values: what the server announces, and parsing what clients send.
import { FerryError, type Metadata } from '../../protocol/index.js';
import type { BodyChecksumAlgorithm } from '../streams/append.js';

export const TusVersion = '1.0.0';
export const TusExtensions = ['creation', 'creation-with-upload', 'creation-defer-length', 'termination', 'expiration', 'checksum', 'concatenation'];
export const TusChecksumAlgorithms: BodyChecksumAlgorithm[] = ['sha1', 'md5', 'sha256'];
/** The body type of tus PATCH requests (and of creation-with-upload). */
export const OffsetOctetStream = 'application/offset+octet-stream';

/** A non-negative integer header (Upload-Offset, Upload-Length); undefined when absent. */
export function integerHeader(value: string | string[] | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\d{1,16}$/.test(value.trim())) {
    throw new FerryError('malformed-request', `${name} must be a non-negative integer.`);
  }
  const n = Number(value.trim());
  if (!Number.isSafeInteger(n)) throw new FerryError('malformed-request', `${name} is too large.`);
  return n;
}

/**
 * Upload-Metadata: comma-separated "key base64value" pairs (the value may be absent). Keys and values
 * must also be acceptable Ferry metadata (checked by the caller); a key given twice is refused.
 */
export function parseUploadMetadata(value: string | string[] | undefined): Metadata {
  const metadata: Metadata = {};
  if (value === undefined || value === '') return metadata;
  if (typeof value !== 'string') throw new FerryError('invalid-metadata', 'Upload-Metadata was given more than once.');
  for (const pair of value.split(',')) {
    const [key, encoded, extra] = pair.trim().split(' ');
    if (!key || extra !== undefined) throw new FerryError('invalid-metadata', 'Upload-Metadata is "key base64, key base64, ...".');
    if (Object.prototype.hasOwnProperty.call(metadata, key)) throw new FerryError('invalid-metadata', `Upload-Metadata has key "${key.slice(0, 64)}" twice.`);
    if (encoded !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(encoded)) {
      throw new FerryError('invalid-metadata', `The Upload-Metadata value of "${key.slice(0, 64)}" is not base64.`);
    }
    metadata[key] = encoded === undefined ? '' : decodeValue(key, encoded);
  }
  return metadata;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A metadata value: base64 of UTF-8 text (binary values cannot be kept as Ferry metadata: refused). */
function decodeValue(key: string, encoded: string): string {
  try {
    return utf8.decode(Buffer.from(encoded, 'base64'));
  } catch {
    throw new FerryError('invalid-metadata', `The Upload-Metadata value of "${key.slice(0, 64)}" is not UTF-8 text.`);
  }
}

/** The Upload-Metadata header for stored metadata (the form clients sent: keys with base64 values). */
export function formatUploadMetadata(metadata: Record<string, unknown>): string {
  return Object.entries(metadata)
    .filter((e): e is [string, string] => typeof e[1] === 'string')
    .map(([k, v]) => (v === '' ? k : `${k} ${Buffer.from(v, 'utf8').toString('base64')}`))
    .join(',');
}

/** The file's name in tus metadata, as tus clients and Uppy send it. */
export function nameFromMetadata(metadata: Metadata): string {
  return metadata.filename || metadata.name || 'upload';
}

/** Upload-Checksum: "<algorithm> <base64 digest>"; 400 for an algorithm not in Tus-Checksum-Algorithm. */
export function parseUploadChecksum(value: string | string[] | undefined): { algorithm: BodyChecksumAlgorithm; base64: string } | undefined {
  if (value === undefined) return undefined;
  const match = typeof value === 'string' ? /^\s*([A-Za-z0-9-]+) +([A-Za-z0-9+/]+={0,2})\s*$/.exec(value) : null;
  if (!match) throw new FerryError('malformed-request', 'Upload-Checksum is "<algorithm> <base64 digest>".');
  const algorithm = match[1]!.toLowerCase() as BodyChecksumAlgorithm;
  if (!TusChecksumAlgorithms.includes(algorithm)) {
    throw new FerryError('unsupported-algorithm', `Upload-Checksum algorithm "${match[1]}" is not supported; use one of ${TusChecksumAlgorithms.join(', ')}.`, {
      supported: TusChecksumAlgorithms,
    });
  }
  return { algorithm, base64: match[2]! };
}

/** Upload-Concat: "partial", or "final;<url> <url> ..." (the upload ids are the last path segments). */
export function parseUploadConcat(value: string | string[] | undefined): { kind: 'partial' } | { kind: 'final'; ids: string[] } | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new FerryError('malformed-request', 'Upload-Concat was given more than once.');
  const v = value.trim();
  if (v === 'partial') return { kind: 'partial' };
  if (!v.startsWith('final;')) throw new FerryError('malformed-request', 'Upload-Concat is "partial" or "final;<url> <url> ...".');
  const ids = v
    .slice('final;'.length)
    .trim()
    .split(/ +/)
    .filter((u) => u !== '')
    .map((u) => {
      const path = u.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '').replace(/[?#].*$/, '');
      const match = /\/tus\/([^/]+)\/?$/.exec(path);
      if (!match) throw new FerryError('malformed-request', `Upload-Concat names ${JSON.stringify(u.slice(0, 200))}, not an upload of this endpoint.`);
      return decodeURIComponent(match[1]!);
    });
  if (ids.length === 0) throw new FerryError('malformed-request', 'Upload-Concat final names no partial upload.');
  return { kind: 'final', ids };
}
