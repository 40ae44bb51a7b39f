// A file's strong ETag: the SHA-256 of its chunk digests joined by "\n", base64url, quoted. Any change
// to any byte changes a chunk digest and so the tag; the server derives it without reading the file,
// and a client checks a manifest against it (so every chunk digest is tied to the file asked for).
// The hash itself is the caller's: node:crypto on the server, the platform's hasher in a client.
import { base64ToBase64url, bytesToBase64url } from './base64url.js';

/** The bytes a file's ETag is the SHA-256 of. */
export function fileEtagInput(chunkDigests: readonly string[]): Uint8Array {
  return new TextEncoder().encode(chunkDigests.join('\n'));
}

/** The ETag for the SHA-256 of fileEtagInput(...): raw bytes, or their standard base64. */
export function fileEtag(sha256: Uint8Array | string): string {
  return `"${typeof sha256 === 'string' ? base64ToBase64url(sha256) : bytesToBase64url(sha256)}"`;
}
