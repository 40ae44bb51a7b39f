// A fetch-compatible Transport over node:http(s) with keep-alive agents. Node's global fetch (undici)
// copies a Uint8Array request body twice on its way to the socket (extractBody, then the web stream's
// clone); this writes the caller's bytes to the socket as they are. Responses stream as web streams.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import type { Transport } from '../io.js';

/** Statuses whose Response must have a null body. */
const nullBodyStatuses = new Set([101, 204, 205, 304]);

export function createNodeTransport(): Transport {
  const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };
  return (url, init) =>
    new Promise<Response>((resolve, reject) => {
      const target = new URL(url);
      const https = target.protocol === 'https:';
      if (!https && target.protocol !== 'http:') {
        reject(new TypeError(`Unsupported protocol ${target.protocol}`));
        return;
      }
      const signal = init.signal ?? undefined;
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const body = bodyBytes(init.body);
      const headers: OutgoingHttpHeaders = {};
      new Headers(init.headers).forEach((value, name) => (headers[name] = value));
      if (body !== null) headers['content-length'] = body.byteLength;
      const req = (https ? httpsRequest : httpRequest)(target, {
        method: init.method ?? 'GET',
        headers,
        agent: https ? agents.https : agents.http,
        signal,
      });
      // on, not once: a request can emit a second error (a socket hang-up after an abort), which with
      // no listener left would crash the process; reject ignores all but the first.
      req.on('error', reject);
      req.once('response', (res: IncomingMessage) => resolve(toResponse(res)));
      req.end(body ?? undefined);
    });
}

function bodyBytes(body: RequestInit['body']): Uint8Array | null {
  if (body === undefined || body === null) return null;
  if (typeof body === 'string') return new TextEncoder().encode(body);
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  throw new TypeError('This transport sends string and byte bodies only.');
}

function toResponse(res: IncomingMessage): Response {
  const headers = new Headers();
  for (let i = 0; i < res.rawHeaders.length; i += 2) headers.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
  const status = res.statusCode ?? 0;
  const init = { status, statusText: res.statusMessage ?? '', headers };
  if (nullBodyStatuses.has(status)) {
    res.resume();
    return new Response(null, init);
  }
  return new Response(Readable.toWeb(res) as ReadableStream<Uint8Array>, init);
}
