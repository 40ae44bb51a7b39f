// A chunk's request body as it streams to storage: counted, length-checked and hashed in the same pass.
import type { Hash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { FerryError } from '../protocol/index.js';

/** Rejects a declared Content-Length that cannot be the chunk before any byte is read. */
export function checkDeclaredLength(req: IncomingMessage, expected: number): void {
  const header = req.headers['content-length'];
  if (header === undefined) return;
  const declared = Number(header);
  if (declared > expected) {
    throw new FerryError('chunk-too-long', `This chunk is ${expected} bytes; Content-Length says ${declared}.`, { expected });
  }
  if (declared !== expected) {
    throw new FerryError('chunk-length-mismatch', `This chunk is ${expected} bytes; Content-Length says ${declared}.`, { expected });
  }
}

/**
 * Yields the body's bytes, updating `hash` and `onBytes` as they pass, and fails if the body is longer
 * or shorter than `expected` or the client goes away. The first `skip` bytes are counted but neither
 * hashed nor yielded (a continuation from before what the server already keeps). The request is not
 * destroyed on early exit, so the server can still answer.
 */
export async function* verifiedBody(
  req: IncomingMessage,
  expected: number,
  hash: Hash,
  onBytes: (n: number) => void,
  skip = 0,
): AsyncGenerator<Uint8Array> {
  let received = 0;
  // The piece that completes the chunk waits for the body's end: a reader that stops at the chunk's
  // length (stageChunk) would otherwise store a chunk whose body went on past it.
  let last: Uint8Array | null = null;
  for await (const part of bodyPieces(req)) {
    received += part.length;
    onBytes(part.length);
    if (received > expected) {
      throw new FerryError('chunk-too-long', `This chunk is ${expected} bytes; the body is longer.`, { expected });
    }
    const from = received - part.length;
    const kept = from >= skip ? part : part.subarray(Math.min(part.length, skip - from));
    if (kept.length === 0) continue;
    hash.update(kept);
    if (received === expected) last = kept;
    else yield kept;
  }
  if (received !== expected) {
    throw new FerryError('chunk-length-mismatch', `This chunk is ${expected} bytes; the body had ${received}.`, {
      expected,
      received,
    });
  }
  if (last) yield last;
}

/** Body bytes buffered before the socket is paused (the reader holds the rest of the memory). */
const pauseAtBytes = 256 * 1024;

/**
 * The request body's pieces exactly as the socket delivered them. A stream's own async iterator
 * reads with read(), which concatenates (copies) whatever is buffered; this never copies. The socket
 * is paused while `pauseAtBytes` wait unread. Returning early leaves the request undestroyed.
 */
export async function* bodyPieces(req: IncomingMessage): AsyncGenerator<Buffer> {
  const queue: Buffer[] = [];
  let queued = 0;
  let ended = false;
  let failure: unknown = null;
  let wake: (() => void) | null = null;
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const onData = (piece: Buffer) => {
    queue.push(piece);
    queued += piece.length;
    if (queued >= pauseAtBytes) req.pause();
    notify();
  };
  const onEnd = () => {
    ended = true;
    notify();
  };
  const onError = (e: unknown) => {
    failure ??= e;
    notify();
  };
  // A close before 'end' means the body will not arrive whole, even if the parser had it all.
  const onClose = () => {
    if (!ended) failure ??= new Error('The client disconnected before its whole body was read.');
    notify();
  };
  req.on('data', onData);
  req.once('end', onEnd);
  req.on('error', onError);
  req.once('close', onClose);
  // The client may have gone while the route was still busy (loading the upload): its 'close' has
  // been and will not come again, and without this the reader (and the chunk's lock) waited for ever.
  if (req.destroyed) onClose();
  try {
    for (;;) {
      const piece = queue.shift();
      if (piece) {
        queued -= piece.length;
        if (queued < pauseAtBytes && req.isPaused() && !ended) req.resume();
        yield piece;
        continue;
      }
      if (failure !== null) throw failure;
      if (ended) return;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('error', onError);
    req.off('close', onClose);
  }
}
