// Bytes of a GetObject response handed on as a Ferry read: as they arrive, or copied into lent buffers.
import type { Readable } from 'node:stream';
import type { BufferLender } from '../types.js';

/**
 * Yields the `length` bytes of `body`. With a lender, each piece is copied into a buffer borrowed just
 * before it is filled and given back when the caller asks for the next piece or stops, so the caller
 * holds one at a time and no piece is longer than its buffer; without one, the socket's own pieces (each
 * a fresh buffer) are handed on. Throws if the body ends short. The body is destroyed however it ends.
 */
export async function* readBody(body: Readable, length: number, lender: BufferLender | undefined, signal: AbortSignal | undefined): AsyncGenerator<Uint8Array> {
  // The SDK's abort covers the request only; a response being read is stopped here.
  const onAbort = () => body.destroy(signal!.reason instanceof Error ? signal!.reason : new Error('The read was aborted.'));
  signal?.addEventListener('abort', onAbort, { once: true });
  const source = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let got = 0;
  let lent: Buffer | null = null;
  try {
    if (!lender) {
      for (let next = await source.next(); !next.done; next = await source.next()) {
        signal?.throwIfAborted();
        got += next.value.byteLength;
        if (got > length) throw new Error(`S3 sent more than the ${length} bytes asked for.`);
        yield next.value;
      }
    } else {
      let left: Buffer | null = null;
      let ended = false;
      while (got < length && !ended) {
        signal?.throwIfAborted();
        lent = await lender.borrow(length - got, signal);
        const room = Math.min(lent.length, length - got);
        let filled = 0;
        // Filled to the brim (or the end), as a file read would: fewer, larger writes to the client.
        while (filled < room) {
          if (!left || left.byteLength === 0) {
            const next = await source.next();
            if (next.done) {
              ended = true;
              break;
            }
            left = next.value;
          }
          const n = Math.min(left.byteLength, room - filled);
          left.copy(lent, filled, 0, n);
          left = left.subarray(n);
          filled += n;
        }
        if (filled > 0) {
          got += filled;
          yield lent.subarray(0, filled);
        }
        lender.giveBack(lent);
        lent = null;
      }
      // Read to its end, so the connection goes back to the pool instead of being cut.
      const extra = left && left.byteLength > 0 ? left : ended ? null : ((await source.next()).value as Buffer | undefined);
      if (extra && extra.byteLength > 0) throw new Error(`S3 sent more than the ${length} bytes asked for.`);
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (lent) lender!.giveBack(lent);
    // A read stopped early must not leave the response (and its connection) half read.
    body.destroy();
  }
  signal?.throwIfAborted();
  if (got !== length) throw new Error(`Short read from S3: wanted ${length} bytes, got ${got}.`);
}
