// The undici dispatcher every request of the Node client goes through: keep-alive connection pools
// per origin, HTTP_PROXY / HTTPS_PROXY / NO_PROXY from the environment, redirects followed (GET and
// HEAD only, see followsRedirects). One per process, so API calls, chunk uploads and range GETs share
// connections.
import type { ConnectionOptions } from 'node:tls';
import { EnvHttpProxyAgent, interceptors, type Dispatcher } from 'undici';

/** Redirects one request follows before it fails (curl -L stops at 50, browsers at 20). */
export const maxRedirects = 10;

export interface HttpDispatcherOptions {
  /** Proxy for http: URLs; default: the http_proxy / HTTP_PROXY environment variable. */
  httpProxy?: string;
  /** Proxy for https: URLs; default: https_proxy / HTTPS_PROXY, else the http: one. */
  httpsProxy?: string;
  /** Hosts never proxied; default: no_proxy / NO_PROXY. */
  noProxy?: string;
  /** Largest response head accepted, in bytes (default 64 KiB). */
  maxHeaderSize?: number;
  /** TLS options for https: origins (a test's own CA). */
  tls?: ConnectionOptions;
  /** Redirects followed per request (default maxRedirects). */
  maxRedirects?: number;
}

/** A new dispatcher (tests; everything else shares sharedDispatcher()). */
export function createHttpDispatcher(o: HttpDispatcherOptions = {}): Dispatcher {
  const agent = new EnvHttpProxyAgent({
    httpProxy: o.httpProxy,
    httpsProxy: o.httpsProxy,
    noProxy: o.noProxy,
    // http: URLs go to a proxy as absolute-form requests, as curl sends them (many proxies allow
    // CONNECT to port 443 only); https: ones through a CONNECT tunnel.
    proxyTunnel: false,
    maxHeaderSize: o.maxHeaderSize ?? 64 * 1024,
    // Each request says so too (http-request.ts): a proxy's own pool does not get these options.
    headersTimeout: 0,
    bodyTimeout: 0,
    // Direct connections take `connect`; those tunnelled through a proxy, `requestTls`.
    ...(o.tls ? { connect: o.tls, requestTls: o.tls } : {}),
  });
  return agent.compose(interceptors.redirect({ maxRedirections: o.maxRedirects ?? maxRedirects }));
}

let shared: Dispatcher | null = null;

/** The process's dispatcher, made on first use (so the proxy environment is read then). */
export function sharedDispatcher(): Dispatcher {
  return (shared ??= createHttpDispatcher());
}

/**
 * Destroys the process's dispatcher, if one was made: every connection, including one still being
 * opened (a TLS handshake, a proxy's CONNECT) that an aborted request cannot cancel yet and that would
 * otherwise keep the process alive until its own timeout. For a command-line run that is over.
 */
export async function closeSharedDispatcher(): Promise<void> {
  const d = shared;
  shared = null;
  await d?.destroy();
}

/**
 * Redirects are followed for GET and HEAD only. A 301/302/303 answering an upload's POST or PATCH
 * would turn it into a GET (as curl -L and fetch do), silently dropping the chunk it carries; the
 * server gives the upload's own URLs, so a redirect there is a misconfiguration, better seen as the
 * 3xx it is.
 */
export function followsRedirects(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}
