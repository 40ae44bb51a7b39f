// A request body cut into consecutive pieces of given lengths (a stream upload's chunks), without copying.

/**
 * Hands out a body's bytes as a series of bounded runs: each take(n) yields the next at most n bytes
 * (splitting a piece where a run ends), and the rest waits for the next take. A body that fails
 * fails the run being read; `failure` and `ended` tell afterwards how the body stopped.
 */
export class BodyCutter {
  readonly #pieces: AsyncIterator<Uint8Array>;
  #rest: Uint8Array | null = null;
  /** The body has no more bytes (it ended cleanly). */
  ended = false;
  /** Why the body stopped part-way, if it did. */
  failure: unknown = undefined;

  constructor(body: AsyncIterable<Uint8Array>) {
    this.#pieces = body[Symbol.asyncIterator]();
  }

  /** True once nothing more will come: ended, failed, or no bytes left. */
  get done(): boolean {
    return this.#rest === null && (this.ended || this.failure !== undefined);
  }

  /** Waits until there is a byte to take or the body has stopped; true when bytes remain. */
  async hasMore(): Promise<boolean> {
    if (this.#rest) return true;
    if (this.ended || this.failure !== undefined) return false;
    const piece = await this.#next();
    if (piece) this.#rest = piece;
    return piece !== null;
  }

  /** The next at most `n` bytes, piece by piece; `seen` is told of each piece before it is yielded. */
  async *take(n: number, seen: (piece: Uint8Array) => void): AsyncGenerator<Uint8Array> {
    let left = n;
    while (left > 0) {
      let piece = this.#rest;
      this.#rest = null;
      if (!piece) {
        piece = await this.#next();
        if (this.failure !== undefined) throw this.failure;
        if (!piece) return;
      }
      if (piece.byteLength > left) {
        this.#rest = piece.subarray(left);
        piece = piece.subarray(0, left);
      }
      left -= piece.byteLength;
      seen(piece);
      yield piece;
    }
  }

  /** Stops reading the body (when the caller has what it needs). */
  async close(): Promise<void> {
    await this.#pieces.return?.();
  }

  async #next(): Promise<Uint8Array | null> {
    for (;;) {
      let step: IteratorResult<Uint8Array>;
      try {
        step = await this.#pieces.next();
      } catch (error) {
        this.failure = error;
        return null;
      }
      if (step.done) {
        this.ended = true;
        return null;
      }
      if (step.value.byteLength > 0) return step.value;
    }
  }
}
