// Small helpers for node:http: JSON and problem responses, bounded JSON bodies, base URLs.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { hostname, networkInterfaces } from 'node:os';
import type { Duplex } from 'node:stream';
import { FerryError, Headers, MediaTypes, PROTOCOL_VERSION } from '../protocol/index.js';
import { requestIdOf } from './request-log.js';

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
  // The request id ties this answer to the server's log line about it.
  const requestId = requestIdOf(req);
  const text = JSON.stringify({ ...error.toProblem(loggablePath(req.url)), ...(requestId && { requestId }) });
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

/**
 * Answers what node:http itself rejects (a request that is not HTTP/1.1, headers too large, a request
 * slower than the request timeout) with a problem instead of its bare status line, then closes.
 */
export function sendClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  // As node:http does: answer only if nothing of a response went out on this connection yet.
  const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (!socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const problem =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? new FerryError('request-timeout', 'The request did not arrive within the time limit.')
      : new FerryError('malformed-request', error.code === 'HPE_HEADER_OVERFLOW' ? 'The request headers are too large.' : 'The request is not valid HTTP/1.1.');
  const text = JSON.stringify(problem.toProblem());
  const head = [
    `HTTP/1.1 ${problem.status} ${problem.status === 408 ? 'Request Timeout' : 'Bad Request'}`,
    `content-type: ${MediaTypes.problem}`,
    `content-length: ${Buffer.byteLength(text)}`,
    'cache-control: no-store',
    `${Headers.version}: ${PROTOCOL_VERSION}`,
    'connection: close',
  ];
  socket.end(`${head.join('\r\n')}\r\n\r\n${text}`);
  socket.once('finish', () => socket.destroy());
}

/**
 * The path and query of a request target: origin-form ("/a/b?q", also "//a") or absolute-form
 * ("http://h/a"). Not `new URL(target, base)`: that reads "//a/b" as a host and throws on "//".
 */
export function requestTarget(target: string): { pathname: string; query: URLSearchParams } {
  try {
    const url = new URL(target.startsWith('/') ? `http://localhost${target}` : target);
    return { pathname: url.pathname, query: url.searchParams };
  } catch {
    throw new FerryError('malformed-request', 'The request target is not a valid path or URL.');
  }
}

/** The request target without its query (which may carry a grant): what logs and problems show. */
export function loggablePath(target: string | undefined): string {
  return (target ?? '/').split('?')[0]!;
}

/** A full disk or quota, from the filesystem or from SQLite: 507, not 500. */
export function isStorageFull(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT';
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

/** What baseUrl() needs of the server context. */
export interface LinkBase {
  config: { publicUrl?: string | undefined; trustProxy: boolean };
  /** --public-url, else the listening URL (set once the server listens). */
  baseUrl: string;
}

/**
 * The absolute URL prefix for links in responses (Location, uploadUrl, fileUrl, share links). A
 * request's Host is the client's to choose, and a link built from any Host would send whoever follows
 * it wherever the sender liked; so: --public-url when set; else, behind a trusted proxy
 * (--trust-proxy), its X-Forwarded-Host (and -Proto); else the Host only when it names this machine
 * (a loopback name or one of its own addresses or its host name, any port: a tunnel or port forward
 * keeps working); else the server's own listening URL.
 */
export function baseUrl(req: IncomingMessage, ctx: LinkBase): string {
  if (ctx.config.publicUrl) return ctx.config.publicUrl.replace(/\/+$/, '');
  if (ctx.config.trustProxy) {
    const forwarded = forwardedBase(req);
    if (forwarded) return forwarded;
  }
  const host = req.headers.host;
  if (host !== undefined && namesThisMachine(host)) return `http://${host.toLowerCase()}`;
  return ctx.baseUrl;
}

/** A host name or IP literal with an optional port, as a Host header holds it. */
const authorityRe = /^(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*\.?|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

function firstValue(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  return value?.split(',')[0]!.trim() || undefined;
}

/** http(s)://host from X-Forwarded-Proto and -Host (their first values: the proxy nearest the client). */
function forwardedBase(req: IncomingMessage): string | undefined {
  const host = firstValue(req.headers['x-forwarded-host']);
  if (host === undefined || host.length > 255 || !authorityRe.test(host)) return undefined;
  const proto = (firstValue(req.headers['x-forwarded-proto']) ?? 'http').toLowerCase();
  if (proto !== 'http' && proto !== 'https') return undefined;
  return `${proto}://${host.toLowerCase()}`;
}

const loopbackRe = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d{1,5})?$/i;

/** This machine's addresses and host name, looked up at most every few seconds (chunk PUTs ask each time). */
let ownNames: { at: number; names: Set<string> } | undefined;
const ownNamesTtlMs = 10_000;

function namesThisMachine(host: string): boolean {
  if (host.length > 255 || !authorityRe.test(host)) return false;
  if (loopbackRe.test(host)) return true;
  const name = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '').toLowerCase();
  const now = Date.now();
  if (!ownNames || now - ownNames.at > ownNamesTtlMs) {
    const names = new Set<string>([hostname().toLowerCase()]);
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) names.add(a.address.toLowerCase());
    ownNames = { at: now, names };
  }
  return ownNames.names.has(name);
}
