// A file's bytes passing through on their way to another store, hashed per chunk of the file's own chunk
// size and checked against the digests recorded for it: a damaged source is never copied silently.
import { createHash, type Hash } from 'node:crypto';
import { bytesToBase64, chunkCount, formatDigest, parseDigest } from '../../protocol/index.js';

export class SourceDamagedError extends Error {
  override name = 'SourceDamagedError';
}

export class ChunkDigests {
  readonly #chunkSize: number;
  readonly #size: number;
  readonly #total: number;
  /** Recorded digests by chunk index (canonical spelling), or null when the source has none. */
  readonly #expected: string[] | null;
  readonly #fileDigest: string | null;
  readonly #digests: string[] = [];
  #chunk: Hash = createHash('sha256');
  readonly #whole: Hash | null;
  /** Bytes seen so far; the current chunk is the one this offset falls in. */
  #offset = 0;

  /** `expected`: the recorded chunk digests, index i at i (null: compute them); `fileDigest`: a declared whole-file digest. */
  constructor(file: { size: number; chunkSize: number; fileDigest: string | null }, expected: string[] | null) {
    this.#chunkSize = file.chunkSize;
    this.#size = file.size;
    this.#total = chunkCount(file.size, file.chunkSize);
    this.#expected = expected && expected.map((d) => formatDigest(parseDigest(d)));
    this.#fileDigest = file.fileDigest && formatDigest(parseDigest(file.fileDigest));
    this.#whole = file.fileDigest ? createHash('sha256') : null;
  }

  /** Passes `body` through unchanged, hashing it; the bytes must come in file order, with no gap. */
  async *through(body: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
    for await (const piece of body) {
      this.#take(piece);
      yield piece;
    }
  }

  /** The digests of every chunk, after the last byte went through; throws if any (or the file's) differs. */
  finish(): string[] {
    if (this.#offset !== this.#size) throw new SourceDamagedError(`read ${this.#offset} of ${this.#size} bytes`);
    // A 0-byte file is one empty chunk, which no byte ever closed.
    while (this.#digests.length < this.#total) this.#close();
    if (this.#whole && this.#fileDigest) {
      const actual = formatDigest({ algorithm: 'sha-256', base64: bytesToBase64(this.#whole.digest()) });
      if (actual !== this.#fileDigest) throw new SourceDamagedError(`the file's bytes do not match its declared digest ${this.#fileDigest}`);
    }
    return this.#digests;
  }

  #take(piece: Uint8Array): void {
    this.#whole?.update(piece);
    let at = 0;
    while (at < piece.length) {
      const chunkEnd = Math.min((this.#digests.length + 1) * this.#chunkSize, this.#size);
      const n = Math.min(piece.length - at, chunkEnd - this.#offset);
      if (n <= 0) throw new SourceDamagedError(`more than ${this.#size} bytes`);
      this.#chunk.update(piece.subarray(at, at + n));
      at += n;
      this.#offset += n;
      if (this.#offset === chunkEnd) this.#close();
    }
  }

  #close(): void {
    const index = this.#digests.length;
    const digest = formatDigest({ algorithm: 'sha-256', base64: bytesToBase64(this.#chunk.digest()) });
    const expected = this.#expected?.[index];
    if (this.#expected && digest !== expected) {
      throw new SourceDamagedError(`chunk ${index} does not match its recorded digest`);
    }
    this.#digests.push(digest);
    this.#chunk = createHash('sha256');
  }
}
