// Retry events in words: "connecting to example.com:443… retrying in 4 s (connection refused)" while
// nothing has moved yet, "chunk 7 failed (connection reset); retrying in 1.2 s" during a transfer.
import type { RetryEvent } from '../client/index.js';

/** System error codes (and the client's names for them) in a few words. */
const networkWords: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'name lookup failed',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_SOCKET: 'connection closed',
  UND_ERR_CONNECT_TIMEOUT: 'connect timed out',
  UND_ERR_HEADERS_TIMEOUT: 'no answer in time',
  UND_ERR_BODY_TIMEOUT: 'no data in time',
  // The client's own NetworkError codes.
  'connection-refused': 'connection refused',
  'unknown-host': 'host not found',
  'dns-temporary': 'name lookup failed',
  tls: 'TLS failed',
  timeout: 'timed out',
};

/** host:port of a URL, with the scheme's default port spelled out (what a firewall rule names). */
export function hostPort(url: string): string {
  try {
    const u = new URL(url);
    const port = u.port || (u.protocol === 'https:' ? '443' : u.protocol === 'http:' ? '80' : '');
    return port ? `${u.hostname}:${port}` : u.hostname;
  } catch {
    return url;
  }
}

/** A few words on why a request failed: the network error code or HTTP status, else its message. */
export function failureWords(error: unknown): string {
  for (let e: unknown = error, depth = 0; e && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    if (typeof e !== 'object') break;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && networkWords[code]) return networkWords[code];
    if ((e as { timeout?: unknown }).timeout === true) return 'timed out';
    const status = (e as { status?: unknown }).status;
    // The number alone: the line has to fit an 80-column terminal with a host name and a file name.
    if (typeof status === 'number' && status >= 400) return `HTTP ${status}`;
  }
  const message = error instanceof Error ? error.message : String(error);
  const line = message.split('\n')[0]!;
  return line.length > 80 ? `${line.slice(0, 79)}…` : line;
}

/** "0.4 s" below a second, else whole seconds: "4 s". */
export function formatDelay(ms: number): string {
  return ms < 950 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

/** Before any byte moved: the server has not answered yet. */
export function connectingLine(url: string, r: RetryEvent): string {
  return `connecting to ${hostPort(url)}… retrying in ${formatDelay(r.delayMs)} (${failureWords(r.error)})`;
}

/** During a transfer: which request failed and when it goes again. */
export function retryLine(r: RetryEvent): string {
  return `${r.what} failed (${failureWords(r.error)}); retrying in ${formatDelay(r.delayMs)}`;
}

/** The --json fields of a retry event. */
export function retryFields(r: RetryEvent): Record<string, unknown> {
  return { what: r.what, index: r.index, delayMs: r.delayMs, failures: r.failures, kind: r.kind, reason: failureWords(r.error) };
}
