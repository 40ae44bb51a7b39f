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
 * or shorter than `expected` or the client goes away. The request is not destroyed on early exit, so
 * the server can still answer.
 */
export async function* verifiedBody(
  req: IncomingMessage,
  expected: number,
  hash: Hash,
  onBytes: (n: number) => void,
): AsyncGenerator<Uint8Array> {
  let received = 0;
  for await (const part of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    received += part.length;
    onBytes(part.length);
    if (received > expected) {
      throw new FerryError('chunk-too-long', `This chunk is ${expected} bytes; the body is longer.`, { expected });
    }
    hash.update(part);
    yield part;
  }
  if (received !== expected) {
    throw new FerryError('chunk-length-mismatch', `This chunk is ${expected} bytes; the body had ${received}.`, {
      expected,
      received,
    });
  }
}
