// The management commands' HTTP (ls, rm, abort, status, share, keys, the --no-resume clean-up): the
// Node client's transport, so they honour HTTP(S)_PROXY/NO_PROXY and follow GET redirects as uploads
// and downloads do, and always with a time limit (a hung server must not hold the command).
import { createNodeTransport } from '../client/node/http-transport.js';

const transport = createNodeTransport();

/** Requests through the shared dispatcher, aborted after `timeoutMs` unless `init.signal` says otherwise. */
export function cliFetch(url: string, init: RequestInit = {}, timeoutMs = 30_000): Promise<Response> {
  return transport(url, { ...init, signal: init.signal ?? AbortSignal.timeout(timeoutMs) });
}
