// The body of a chunk staged across requests (stream uploads), as both blob stores read it.
import { FerryError } from '../protocol/index.js';
import type { ChunkPlace } from './types.js';

export interface DrainedBody {
  /** Bytes handed to `take`. */
  received: number;
  /** Whether the body failed part-way (a cut connection): its bytes before the failure were taken. */
  failed: boolean;
  failure?: unknown;
}

/**
 * Hands each piece of `body` to `take`, never past the chunk's end (`have` bytes are staged already:
 * more is chunk-too-long). A body that fails part-way is not an error here: its failure is returned and
 * what it yielded before stays taken. The signal is checked before each piece; an error from `take`,
 * the signal or the length check ends the body and is thrown.
 */
export async function drainStagedBody(
  place: ChunkPlace,
  have: number,
  body: AsyncIterable<Uint8Array>,
  signal: AbortSignal | undefined,
  take: (piece: Uint8Array) => unknown,
): Promise<DrainedBody> {
  const source = body[Symbol.asyncIterator]();
  let received = 0;
  let stopped = false; // the body ended or threw: nothing left to end
  try {
    for (;;) {
      let next: IteratorResult<Uint8Array>;
      try {
        next = await source.next();
      } catch (failure) {
        stopped = true;
        return { received, failed: true, failure };
      }
      if (next.done) {
        stopped = true;
        return { received, failed: false };
      }
      signal?.throwIfAborted();
      const piece = next.value;
      if (have + received + piece.byteLength > place.length) {
        throw new FerryError('chunk-too-long', `Chunk ${place.index} is ${place.length} bytes; ${have} are staged and the body is longer than the rest.`, {
          expected: place.length,
        });
      }
      await take(piece);
      received += piece.byteLength;
    }
  } finally {
    if (!stopped) await source.return?.().catch(() => {});
  }
}
