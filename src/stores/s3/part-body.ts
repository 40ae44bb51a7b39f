// A chunk's body as an UploadPart body: a byte stream with backpressure that carries exactly the chunk's length.
import { Readable } from 'node:stream';
import { FerryError } from '../../protocol/index.js';
import type { ChunkPlace } from '../types.js';

export interface PartBody {
  /** What the SDK sends (pipes into the request, so the socket's pace pulls the source). */
  stream: Readable;
  /** Settles when the source is used up with exactly place.length bytes, or with the body's error. */
  settled: Promise<void>;
  /** The error the source threw, or the length problem; set as soon as it happens. */
  readonly error: unknown;
}

/**
 * Wraps `source`, refusing a piece that would pass `place.length` (before it is sent) and a source that
 * ends short. `onError` runs as soon as either happens: the caller aborts the request, since a piped
 * stream that fails does not end the request it feeds and S3 would wait for the missing bytes.
 */
export function partBody(place: ChunkPlace, source: AsyncIterable<Uint8Array>, onError: (error: unknown) => void): PartBody {
  let failure: unknown;
  let settle!: () => void;
  let fail!: (error: unknown) => void;
  const settled = new Promise<void>((resolve, reject) => {
    settle = resolve;
    fail = reject;
  });
  settled.catch(() => {}); // observed by the caller when it needs it
  async function* counted(): AsyncGenerator<Uint8Array> {
    let received = 0;
    try {
      for await (const piece of source) {
        if (received + piece.byteLength > place.length) {
          throw new FerryError('chunk-too-long', `Chunk ${place.index} is ${place.length} bytes; the body is longer.`, { expected: place.length });
        }
        received += piece.byteLength;
        if (piece.byteLength > 0) yield piece;
      }
      if (received !== place.length) {
        throw new FerryError('chunk-length-mismatch', `Chunk ${place.index} is ${place.length} bytes; the body had ${received}.`, {
          expected: place.length,
          received,
        });
      }
    } catch (error) {
      failure = error;
      fail(error);
      onError(error);
      throw error;
    }
    settle();
  }
  const stream = Readable.from(counted(), { objectMode: false, highWaterMark: 64 * 1024 });
  // pipe() leaves a source's errors to its owner: they reach the caller through `settled` and `onError`.
  stream.on('error', () => {});
  return {
    stream,
    settled,
    get error() {
      return failure;
    },
  };
}
