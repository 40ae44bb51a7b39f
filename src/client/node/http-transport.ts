// A fetch-compatible Transport over undici's dispatcher (http-dispatcher.ts: keep-alive, proxies from
// the environment, redirects for GET and HEAD). Node's global fetch copies a Uint8Array request body
// twice on its way to the socket (extractBody, then the web stream's clone); here the caller's bytes
// go to the socket as they are. Responses stream as web streams, with the URL that answered.
import type { Dispatcher } from 'undici';
import type { Transport } from '../engine/io.js';
import { sharedDispatcher } from './http-dispatcher.js';
import { responseOf, sendRequest, type BodyFlow } from './http-request.js';

export interface NodeTransportOptions {
  /** Default: the process's shared dispatcher. */
  dispatcher?: Dispatcher;
}

/** Statuses whose Response must have a null body. */
const nullBodyStatuses = new Set([204, 205, 304]);
/** Body parts buffered for a slow reader before the connection is paused. */
const bufferedParts = 16;

export function createNodeTransport(options: NodeTransportOptions = {}): Transport {
  return (url, init) =>
    new Promise<Response>((resolve, reject) => {
      const method = (init.method ?? 'GET').toUpperCase();
      let body: Uint8Array | string | null;
      try {
        body = bodyOf(init.body);
      } catch (e) {
        reject(e);
        return;
      }
      let stream: ReadableStreamDefaultController<Uint8Array> | null = null;
      let flow: BodyFlow | null = null;
      sendRequest(options.dispatcher ?? sharedDispatcher(), { url, method, headers: new Headers(init.headers), body }, init.signal ?? null, {
        head(head, f) {
          flow = f;
          const empty = method === 'HEAD' || nullBodyStatuses.has(head.status);
          const readable = empty
            ? null
            : new ReadableStream<Uint8Array>(
                {
                  start: (c) => void (stream = c),
                  pull: () => f.resume(),
                  cancel: (reason) => f.abort(reason instanceof Error ? reason : new Error('The body was cancelled.')),
                },
                { highWaterMark: bufferedParts },
              );
          resolve(responseOf(head, readable));
        },
        data(chunk) {
          if (!stream) return;
          stream.enqueue(chunk);
          // A reader behind: stop reading the connection until it pulls again.
          if ((stream.desiredSize ?? 0) <= 0) flow!.pause();
        },
        end() {
          stream?.close();
        },
        fail(error) {
          reject(error);
          stream?.error(error);
        },
      });
    });
}

function bodyOf(body: RequestInit['body']): Uint8Array | string | null {
  if (body === undefined || body === null) return null;
  if (typeof body === 'string' || body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  throw new TypeError('This transport sends string and byte bodies only.');
}
