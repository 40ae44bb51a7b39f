// One request through an undici dispatcher, with a handler of our own: the final response head as
// a status, Headers and the URL it came from (after redirects), the body as the Buffers undici read
// (no stream in between), flow control and abort. Both Node transports are built on it.
import type { Dispatcher } from 'undici';
import { followsRedirects } from './http-dispatcher.js';

export interface HttpRequest {
  url: string;
  method: string;
  headers: Iterable<[string, string]>;
  body?: Uint8Array | string | null;
}

export interface ResponseHead {
  status: number;
  statusText: string;
  headers: Headers;
  /** The URL that answered: the request's, or the last redirect's target. */
  url: string;
  redirected: boolean;
}

/** The body's flow, once the head is in. */
export interface BodyFlow {
  /** Stops reading from the connection until resume(). */
  pause(): void;
  resume(): void;
  /** Drops the request (and its connection); the sink's fail() gets `reason`. */
  abort(reason: Error): void;
}

/** Where a response goes. Exactly one of end() and fail() is called, once. */
export interface ResponseSink {
  /** The final head (interim 1xx and followed redirects never come here). Throwing fails the request. */
  head(head: ResponseHead, flow: BodyFlow): void;
  /** A part of the body, in order; the Buffer is the sink's to keep. Throwing fails the request. */
  data(chunk: Buffer): void;
  end(): void;
  /** The signal's reason when it aborted, else an HttpTransportError whose cause is what failed. */
  fail(error: unknown): void;
}

/**
 * A request that failed below HTTP. `cause` is the error underneath (a system error with its `code`:
 * ECONNREFUSED, ENOTFOUND, a TLS code; undici's UND_ERR_*); `code` is set only for our own
 * conditions (ERR_TOO_MANY_REDIRECTS).
 */
export class HttpTransportError extends Error {
  readonly code?: string;

  constructor(message: string, options: { cause?: unknown; code?: string } = {}) {
    super(message, { cause: options.cause });
    this.name = 'HttpTransportError';
    if (options.code) this.code = options.code;
  }
}

const redirectStatuses = new Set([300, 301, 302, 303, 307, 308]);
/** Set by undici from the body, the URL or the connection; a caller's value could only contradict it. */
const droppedHeaders = new Set(['host', 'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'upgrade']);

/** Sends `request` through `dispatcher`; the outcome goes to `sink`. */
export function sendRequest(dispatcher: Dispatcher, request: HttpRequest, signal: AbortSignal | null, sink: ResponseSink): void {
  const handler = new SinkHandler(request, signal, sink);
  if (signal?.aborted) {
    handler.abort(signal.reason);
    return;
  }
  let target: URL;
  try {
    target = new URL(request.url);
    if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new TypeError(`Unsupported protocol ${target.protocol} (http: and https: are)`);
  } catch (e) {
    handler.onResponseError(null, e as Error);
    return;
  }
  const headers: string[] = [];
  let hasAuthorization = false;
  for (const [name, value] of request.headers) {
    const lower = name.toLowerCase();
    if (droppedHeaders.has(lower)) continue;
    if (lower === 'authorization') hasAuthorization = true;
    headers.push(name, value);
  }
  if ((target.username || target.password) && !hasAuthorization) {
    // As node:http and curl do with credentials in the URL; they never go further (origin only).
    const user = `${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`;
    headers.push('authorization', `Basic ${Buffer.from(user).toString('base64')}`);
  }
  dispatcher.dispatch(
    {
      origin: target.origin,
      path: `${target.pathname}${target.search}`,
      method: request.method,
      headers,
      body: request.body ?? null,
      // The engines time their requests (whole request, or silence while reading); undici's 300 s
      // would cut a slow chunk upload short.
      headersTimeout: 0,
      bodyTimeout: 0,
      // Read by the redirect interceptor: 0 hands the 3xx back as it is.
      ...(followsRedirects(request.method) ? {} : { maxRedirections: 0 }),
    } as Dispatcher.DispatchOptions,
    handler,
  );
}

class SinkHandler implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | null = null;
  /** URLs that answered so far, kept by the redirect interceptor (absent when it did not act). */
  private history: readonly URL[] = [];
  private settled = false;
  private headDone = false;

  constructor(
    private readonly request: HttpRequest,
    private readonly signal: AbortSignal | null,
    private readonly sink: ResponseSink,
  ) {
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  private readonly onAbort = () => this.abort(this.signal!.reason);

  /** Fails at once with `reason`; the request, when it has started, is dropped with its connection. */
  abort(reason: unknown): void {
    this.settle(() => this.sink.fail(reason));
    this.controller?.abort(reason instanceof Error ? reason : new Error(String(reason)));
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    // Once per hop: a followed redirect is a new request with a new controller.
    this.controller = controller;
    const history = (context as { history?: unknown } | null)?.history;
    if (Array.isArray(history)) this.history = history as URL[];
    // Aborted before undici started it (connecting): stop it now.
    if (this.settled) controller.abort(this.signal?.reason instanceof Error ? this.signal.reason : new Error('aborted'));
  }

  onResponseStart(controller: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[] | undefined>, statusText?: string): void {
    if (this.settled || status < 200) return;
    try {
      this.sink.head(this.headOf(status, headers, statusText), {
        pause: () => controller.pause(),
        resume: () => controller.resume(),
        abort: (reason) => this.abort(reason),
      });
    } catch (e) {
      this.abort(e);
    }
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled) return;
    try {
      this.sink.data(chunk);
    } catch (e) {
      // The sink's own error, as it is (not one of the wire's).
      this.abort(e);
    }
  }

  private headOf(status: number, headers: Record<string, string | string[] | undefined>, statusText = ''): ResponseHead {
    if (status > 599) throw new HttpTransportError(`Invalid HTTP status ${status}`);
    const redirected = this.history.length > 1;
    const url = redirected ? this.history.at(-1)!.href : this.request.url;
    if (redirectStatuses.has(status) && headers.location !== undefined && followsRedirects(this.request.method)) {
      // The interceptor hands a redirect back only when its limit is reached.
      throw new HttpTransportError(`Too many redirects: stopped after ${this.history.length - 1}, at ${url} (pointing to ${String(headers.location)})`, {
        code: 'ERR_TOO_MANY_REDIRECTS',
      });
    }
    const h = new Headers();
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const v of value) h.append(name, v);
      else h.append(name, value);
    }
    this.headDone = true;
    return { status, statusText, headers: h, url, redirected };
  }

  onResponseEnd(): void {
    this.settle(() => this.sink.end());
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, error: Error): void {
    if (this.settled) return;
    this.settle(() => this.sink.fail(this.signal?.aborted ? this.signal.reason : this.describe(error)));
  }

  private settle(then: () => void): void {
    if (this.settled) return;
    this.settled = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    then();
  }

  /** What failed, said for a person, with the error underneath as `cause`. */
  private describe(error: Error): unknown {
    if (error instanceof HttpTransportError) return error;
    const code = (error as { code?: unknown }).code;
    if (code === 'UND_ERR_INVALID_ARG' && error.message.startsWith('Redirect loop')) {
      const chain = this.history.map((u) => u.href).join(' → ');
      return new HttpTransportError(`Redirect loop: ${chain} → back to an address already visited`, { cause: error, code: 'ERR_TOO_MANY_REDIRECTS' });
    }
    const where = this.headDone ? ' (while reading the body)' : '';
    const text = error.message || error.name;
    const message = typeof code === 'string' && !text.includes(code) ? `${text} (${code})${where}` : `${text}${where}`;
    return new HttpTransportError(message, { cause: error });
  }
}

/** A Response for `head` (its body, if any, is `body`), telling the URL that answered as fetch's does. */
export function responseOf(head: ResponseHead, body: ReadableStream<Uint8Array> | null): Response {
  const res = new Response(body, { status: head.status, statusText: head.statusText, headers: head.headers });
  Object.defineProperty(res, 'url', { value: head.url });
  Object.defineProperty(res, 'redirected', { value: head.redirected });
  return res;
}
