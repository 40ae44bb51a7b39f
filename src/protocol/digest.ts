// RFC 9530 digest fields (Content-Digest, Repr-Digest): parsing, formatting and the algorithms Ferry accepts.
import { FerryError } from './problems.js';

/** Algorithms a server may accept; sha-256 is the default and always accepted. */
export const DigestAlgorithms = ['sha-256'] as const;
export type DigestAlgorithm = (typeof DigestAlgorithms)[number];
export const DefaultDigestAlgorithm: DigestAlgorithm = 'sha-256';

const digestBytes: Record<DigestAlgorithm, number> = { 'sha-256': 32 };

export function isDigestAlgorithm(name: string): name is DigestAlgorithm {
  return (DigestAlgorithms as readonly string[]).includes(name);
}

/** A digest value: algorithm plus raw bytes as base64 (standard alphabet, padded; canonical once parsed). */
export interface Digest {
  algorithm: DigestAlgorithm;
  base64: string;
}

export function bytesToBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return btoa(s);
}

export function formatDigestField(d: Digest): string {
  return `${d.algorithm}=:${d.base64}:`;
}

/** "sha-256=:...:" as used in JSON bodies: the same text as the header member. */
export const formatDigest = formatDigestField;

const memberRe = /^([a-z*][a-z0-9_\-.*]*)=:([A-Za-z0-9+/]*={0,2}):(?:;.*)?$/;

/**
 * Parses a digest field and returns the member for `algorithm` (or, without one, the first
 * member Ferry supports). Throws FerryError malformed-digest / unsupported-algorithm.
 */
export function parseDigestField(value: string | undefined | null, algorithm?: DigestAlgorithm): Digest {
  if (value === undefined || value === null || value.trim() === '') {
    throw new FerryError('missing-digest', 'The Content-Digest header is required, e.g. "sha-256=:BASE64:".');
  }
  const members = new Map<string, string>();
  for (const raw of value.split(',')) {
    const part = raw.trim();
    const m = memberRe.exec(part);
    if (!m) throw new FerryError('malformed-digest', `Cannot parse digest member "${part.slice(0, 80)}".`);
    members.set(m[1]!, m[2]!);
  }
  const wanted = algorithm ? [algorithm] : DigestAlgorithms;
  for (const alg of wanted) {
    const b64 = members.get(alg);
    if (b64 === undefined) continue;
    const bytes = decodeBase64(b64);
    if (bytes === null) throw new FerryError('malformed-digest', `The ${alg} digest is not base64.`);
    if (bytes.length !== digestBytes[alg]) {
      throw new FerryError('malformed-digest', `A ${alg} digest is ${digestBytes[alg]} bytes; got ${bytes.length}.`);
    }
    // The canonical spelling, so that comparing digests as text compares the bytes they stand for.
    return { algorithm: alg, base64: bytesToBase64(bytes) };
  }
  throw new FerryError(
    'unsupported-algorithm',
    `No digest with ${algorithm ?? `one of ${DigestAlgorithms.join(', ')}`}; got ${[...members.keys()].join(', ') || 'none'}.`,
  );
}

/** Parses the JSON-body form "sha-256=:BASE64:" of a single digest. */
export const parseDigest = (text: string, algorithm?: DigestAlgorithm) => parseDigestField(text, algorithm);

/**
 * Decodes standard base64 as RFC 8941 asks of a byte sequence's parser: the "=" padding may be left
 * out, and non-zero padding bits are ignored (so one value has several spellings). Padding that is
 * present must be right. Null when it is not base64.
 */
function decodeBase64(b64: string): Uint8Array | null {
  const data = b64.replace(/=+$/, '');
  const padding = b64.length - data.length;
  if (data.length % 4 === 1 || data.includes('=')) return null;
  if (padding > 0 && b64.length % 4 !== 0) return null;
  const text = atob(data); // accepts unpadded input and ignores padding bits (forgiving-base64)
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

export function digestsEqual(a: Digest, b: Digest): boolean {
  return a.algorithm === b.algorithm && a.base64 === b.base64;
}
