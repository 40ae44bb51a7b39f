// The download's hash on a worker thread: same digests as node:crypto, parts handed back only once
// hashed, parts the caller reuses at once copied first, hashes side by side kept apart.
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { formatDigest } from '../../src/protocol/index.js';
import { createWorkerHasher, terminateHashWorker } from '../../src/client/node/worker-hasher.js';

const expected = (bytes: Uint8Array) => formatDigest({ algorithm: 'sha-256', base64: createHash('sha256').update(bytes).digest('base64') });

/** Cuts `data` into parts of 1 B to 300 KiB, each in shared memory of its own. */
function sharedParts(data: Buffer, seed: number): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let at = 0;
  let x = seed;
  while (at < data.length) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const n = Math.min(data.length - at, 1 + (x % (300 * 1024)));
    const part = new Uint8Array(new SharedArrayBuffer(n));
    part.set(data.subarray(at, at + n));
    parts.push(part);
    at += n;
  }
  return parts;
}

describe('worker hasher', () => {
  it('digests shared parts in place and hands each back once, after the worker read it', async () => {
    const data = randomBytes(5 * 1024 * 1024 + 77);
    const hash = createWorkerHasher().createHash!('sha-256');
    const parts = sharedParts(data, 7);
    const back = new Map<Uint8Array, number>();
    for (const part of parts) {
      hash.update(part, (p) => {
        back.set(p, (back.get(p) ?? 0) + 1);
        p.fill(0); // reused at once, as the download's block pool does: the hash must be done with it
      });
    }
    expect(await hash.digest()).toBe(expected(data));
    expect(back.size).toBe(parts.length);
    expect([...back.values()].every((n) => n === 1)).toBe(true);
  });

  it('copies parts that are not shared or come without a callback, so the caller may reuse them at once', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 5);
    const hash = createWorkerHasher().createHash!('sha-256');
    const scratch = Buffer.alloc(64 * 1024); // ordinary memory, overwritten after every update
    sharedParts(data, 3).forEach((part, i) => {
      if (i % 3 === 0) {
        hash.update(part, () => {}); // in place
      } else if (i % 3 === 1) {
        hash.update(part); // shared, but no callback: the caller reuses it at once
        part.fill(1);
      } else {
        for (let o = 0; o < part.byteLength; o += scratch.length) {
          const piece = part.subarray(o, o + scratch.length);
          scratch.set(piece);
          hash.update(scratch.subarray(0, piece.length), () => {});
          scratch.fill(2);
        }
      }
    });
    expect(await hash.digest()).toBe(expected(data));
  });

  it('keeps hashes side by side apart, and one dropped before its digest disturbs nothing', async () => {
    const hasher = createWorkerHasher();
    const inputs = [0, 1, 2, 3].map((i) => randomBytes(1024 * 1024 * (i + 1) + i));
    const hashes = inputs.map(() => hasher.createHash!('sha-256'));
    const abandoned = hasher.createHash!('sha-256');
    const split = inputs.map((d, i) => sharedParts(d, 11 + i));
    for (let k = 0; split.some((p) => k < p.length); k++) {
      split.forEach((p, i) => {
        if (k < p.length) hashes[i]!.update(p[k]!, () => {});
      });
      abandoned.update(randomBytes(100_000));
    }
    const digests = await Promise.all(hashes.map((h) => h.digest()));
    expect(digests).toEqual(inputs.map(expected));
    expect(await hasher.createHash!('sha-256').digest()).toBe(expected(Buffer.alloc(0)));
  });

  it('a worker that dies fails the hashes it held, hands every part back, and the next hash gets a new one', async () => {
    const hasher = createWorkerHasher();
    const hash = hasher.createHash!('sha-256');
    const data = randomBytes(3 * 1024 * 1024);
    const parts = sharedParts(data, 5);
    let back = 0;
    parts.slice(0, parts.length / 2).forEach((p) => hash.update(p, () => back++));
    // Another digest answered: the worker has taken in every update above. Then it dies, with this
    // hash's state in it, and the rest goes to a new worker.
    await hasher.createHash!('sha-256').digest();
    await terminateHashWorker();
    parts.slice(parts.length / 2).forEach((p) => hash.update(p, () => back++));
    await expect(hash.digest()).rejects.toThrow(/restarted/);
    expect(back).toBe(parts.length);
    const next = hasher.createHash!('sha-256');
    next.update(data);
    expect(await next.digest()).toBe(expected(data));
  });
});
