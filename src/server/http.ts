// Small helpers for node:http: JSON and problem responses, bounded JSON bodies, base URLs.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FerryError, Headers, MediaTypes, PROTOCOL_VERSION } from '../protocol/index.js';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': MediaTypes.json,
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/**
 * Answers with an RFC 9457 problem. When the request body was not fully read, the connection is
 * closed after the response so unread bytes cannot be taken for the next request.
 */
export function sendProblem(req: IncomingMessage, res: ServerResponse, error: FerryError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(error.toProblem(req.url));
  const headers: Record<string, string | number> = {
    'content-type': MediaTypes.problem,
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    [Headers.version]: PROTOCOL_VERSION,
  };
  const retryAfter = error.extensions.retryAfter;
  if (typeof retryAfter === 'number') headers['retry-after'] = String(retryAfter);
  if (!req.complete) headers.connection = 'close';
  res.writeHead(error.status, headers);
  res.end(text);
  if (!req.complete) {
    // Stop reading the rest of a body we will not use; the socket closes once the response is out.
    res.once('finish', () => req.socket.destroySoon?.());
  }
}

/** Reads a JSON body of at most `limit` bytes. */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== MediaTypes.json) {
    throw new FerryError('unsupported-media-type', `Expected ${MediaTypes.json}, got "${type || 'none'}".`);
  }
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) throw new FerryError('body-too-large', `JSON bodies are limited to ${limit} bytes.`);
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    size += part.length;
    if (size > limit) throw new FerryError('body-too-large', `JSON bodies are limited to ${limit} bytes.`);
    parts.push(part);
  }
  try {
    return JSON.parse(Buffer.concat(parts).toString('utf8'));
  } catch {
    throw new FerryError('malformed-request', 'The body is not valid JSON.');
  }
}

/** The absolute URL prefix for links in responses. */
export function baseUrl(req: IncomingMessage, publicUrl: string | undefined): string {
  if (publicUrl) return publicUrl.replace(/\/+$/, '');
  const host = req.headers.host ?? `localhost:${req.socket.localPort}`;
  return `http://${host}`;
}
