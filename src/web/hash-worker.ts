// The hashing worker: WebCrypto digests of the chunks the page posts, so hashing a large file never
// blocks the page. Built as its own classic script, dist/web/worker.js; it imports only the digest
// text format, not the protocol's schemas, to stay a few kilobytes.
import { bytesToBase64, formatDigestField, type DigestAlgorithm } from '../protocol/digest.js';
import type { HashReply, HashRequest } from './hash-messages.js';

// Typed through DOM's lib (the project's tsconfig), so the few worker-scope members used are spelled here.
const scope = globalThis as unknown as {
  onmessage: ((event: MessageEvent<HashRequest>) => void) | null;
  postMessage(message: HashReply): void;
};

const subtleNames: Record<DigestAlgorithm, string> = { 'sha-256': 'SHA-256' };

async function digest(bytes: Uint8Array, algorithm: DigestAlgorithm): Promise<string> {
  // Structured clone gave this worker its own copy, backed by a plain ArrayBuffer.
  const raw = await crypto.subtle.digest(subtleNames[algorithm], bytes as Uint8Array<ArrayBuffer>);
  return formatDigestField({ algorithm, base64: bytesToBase64(new Uint8Array(raw)) });
}

scope.onmessage = (event) => {
  const { id, algorithm, bytes } = event.data;
  digest(bytes, algorithm).then(
    (d) => scope.postMessage({ id, digest: d }),
    (error: unknown) => scope.postMessage({ id, error: error instanceof Error ? error.message : String(error) }),
  );
};
