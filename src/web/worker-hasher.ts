// A Hasher that sends chunks to the hashing worker, so digests of large files are computed off the
// page's thread. Falls back to hashing on the page if a worker cannot be started (or dies).
import { createHasher } from '../client/browser/hasher.js';
import type { Hasher } from '../client/index.js';
import type { DigestAlgorithm } from '../protocol/digest.js';
import type { HashReply, HashRequest } from './hash-messages.js';

interface Pending {
  resolve(digest: string): void;
  reject(error: Error): void;
  bytes: Uint8Array;
  algorithm: DigestAlgorithm;
}

export function createWorkerHasher(workerUrl: URL): Hasher {
  const fallback = createHasher();
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let worker: Worker | null | undefined; // undefined: not started yet; null: unavailable

  const fail = () => {
    worker?.terminate();
    worker = null;
    // Requests the worker took with it are hashed here instead: the upload does not notice.
    for (const p of pending.values()) fallback.digest(p.bytes, p.algorithm).then(p.resolve, p.reject);
    pending.clear();
  };

  const start = (): Worker | null => {
    if (worker !== undefined) return worker;
    try {
      worker = new Worker(workerUrl);
    } catch {
      return (worker = null); // no Worker (old browser, blocked by policy)
    }
    worker.onmessage = (event: MessageEvent<HashReply>) => {
      const reply = event.data;
      const p = pending.get(reply.id);
      if (!p) return;
      pending.delete(reply.id);
      if ('digest' in reply) p.resolve(reply.digest);
      else p.reject(new Error(`Hashing failed: ${reply.error}`));
    };
    worker.onerror = (event) => {
      event.preventDefault();
      fail();
    };
    worker.onmessageerror = fail;
    return worker;
  };

  return {
    digest(bytes, algorithm) {
      const w = start();
      if (!w) return fallback.digest(bytes, algorithm);
      return new Promise((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject, bytes, algorithm });
        // Copied, not transferred: the engine still sends these bytes after hashing them. The copy
        // lives only until the digest is back, so memory stays bounded by the chunks being prepared.
        const request: HashRequest = { id, algorithm, bytes };
        w.postMessage(request);
      });
    },
  };
}
