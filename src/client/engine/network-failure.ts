// What a request that got no HTTP answer ran into, told from the error the platform threw: the system
// error code is somewhere along its cause chain (fetch throws TypeError "fetch failed" with the socket
// error as `cause`; a connection tried on several addresses fails with an AggregateError whose
// `errors` hold them). Platform-neutral: it reads `code`, `cause`, `errors` and `message` only.
import { FerryError } from '../../protocol/index.js';
import { NetworkError, TransferError } from './errors.js';

/** NetworkError codes, from the most to the least telling. */
export type NetworkFailure =
  /** Nothing listens at that address and port. */
  | 'connection-refused'
  /** The host name does not resolve. */
  | 'unknown-host'
  /** DNS did not answer for now (EAI_AGAIN): may resolve in a moment. */
  | 'dns-temporary'
  /** The TLS handshake refused the server (its certificate, or no TLS spoken there). */
  | 'tls'
  /** The URL is not one the transport can request (its scheme). */
  | 'unsupported-url'
  /** Redirected too often, or in a loop: the links will not untangle by waiting. */
  | 'redirects'
  | 'timeout'
  /** Anything else: reset, cut, closed early. */
  | 'network';

/** The transfer's server has answered at least once (any HTTP response), or not yet. */
export interface ServerContact {
  answered: boolean;
}

const byCode: Record<string, NetworkFailure> = {
  ECONNREFUSED: 'connection-refused',
  ENOTFOUND: 'unknown-host',
  EAI_NONAME: 'unknown-host',
  EAI_NODATA: 'unknown-host',
  EAI_FAIL: 'unknown-host',
  EAI_AGAIN: 'dns-temporary',
  ERR_INVALID_PROTOCOL: 'unsupported-url',
  ERR_INVALID_URL: 'unsupported-url',
  ERR_TOO_MANY_REDIRECTS: 'redirects',
};

/** Certificate verification (OpenSSL's names) and TLS protocol failures; a handshake timeout is not one. */
const tlsCode = /^(?:ERR_TLS_CERT|ERR_SSL_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT|UNABLE_TO_|CERT_|HOSTNAME_MISMATCH)/;
const unsupportedMessage = /unknown scheme|protocol .* not supported|unsupported protocol/i;
/** The fetch standard's own redirect limit (undici's fetch says so only in words, with no code). */
const redirectsMessage = /redirect count exceeded/i;

function failureOfCode(code: string): NetworkFailure | null {
  if (byCode[code]) return byCode[code];
  return tlsCode.test(code) ? 'tls' : null;
}

interface Found {
  failure: NetworkFailure;
  /** The system error code, when there is one. */
  code: string | null;
  /** The message of the error that said what happened (e.g. "self-signed certificate"). */
  message: string;
}

/** Walks `e`, its causes and aggregated errors, breadth first, for the first error that tells what failed. */
export function findNetworkFailure(e: unknown): Found {
  const seen = new Set<unknown>();
  const queue: unknown[] = [e];
  let firstCode: { code: string; message: string } | null = null;
  while (queue.length > 0 && seen.size < 64) {
    const x = queue.shift();
    if (typeof x !== 'object' || x === null || seen.has(x)) continue;
    seen.add(x);
    const { code, message, cause, errors } = x as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
    const text = typeof message === 'string' ? message : '';
    // Our own and the server's codes say nothing about the socket.
    const own = x instanceof TransferError || x instanceof FerryError;
    if (typeof code === 'string' && !own) {
      const failure = failureOfCode(code);
      if (failure) return { failure, code, message: text };
      firstCode ??= { code, message: text };
    }
    if (unsupportedMessage.test(text)) return { failure: 'unsupported-url', code: typeof code === 'string' ? code : null, message: text };
    if (redirectsMessage.test(text)) return { failure: 'redirects', code: typeof code === 'string' ? code : null, message: text };
    queue.push(cause);
    if (Array.isArray(errors)) queue.push(...(errors as unknown[]));
  }
  const outer = (e as { message?: unknown })?.message;
  return { failure: 'network', code: firstCode?.code ?? null, message: typeof outer === 'string' ? outer : String(e) };
}

/** The NetworkError for a request (`what`, e.g. "GET http://…") to `url` that failed with `e`, in one clear line. */
export function networkError(what: string, url: string, e: unknown): NetworkError {
  const found = findNetworkFailure(e);
  return new NetworkError(describe(found, what, url), { cause: e, code: found.failure });
}

function describe(found: Found, what: string, url: string): string {
  const u = safeUrl(url);
  const host = u?.hostname ?? url;
  switch (found.failure) {
    case 'connection-refused':
      return `cannot connect to ${host}:${u?.port || (u?.protocol === 'https:' ? 443 : 80)} (connection refused)`;
    case 'unknown-host':
      return `unknown host ${host}`;
    case 'dns-temporary':
      return `cannot resolve ${host} for now (temporary DNS failure)`;
    case 'tls':
      return `TLS: ${found.message || found.code} (${u?.origin ?? url})`;
    case 'unsupported-url':
      return `unsupported URL ${url}: ${found.message}`;
    case 'redirects':
      return found.message;
    default: {
      const code = found.code !== null && !found.message.includes(found.code) ? ` (${found.code})` : '';
      return `${what}: ${found.message}${code}`;
    }
  }
}

function safeUrl(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}
