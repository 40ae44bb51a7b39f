// What upload and download options share: the I/O (the caller's, else the platform's, else the
// core's defaults) and the URL, which must be http or https and is said plainly when it is not.
import { systemClock } from './clock.js';
import type { TransferIo } from './io.js';

/** Makes the error a bad option stands for (UploadError or DownloadError, reason 'invalid'). */
export type Invalid = (message: string, code?: string) => Error;

export function resolveTransferIo(options: Partial<TransferIo>, platform: Partial<TransferIo>, invalid: Invalid): TransferIo {
  const hasher = options.hasher ?? platform.hasher;
  if (!hasher) throw invalid('No hasher: pass options.hasher or use the node/browser entry.');
  const fetch = options.fetch ?? platform.fetch ?? globalThis.fetch?.bind(globalThis);
  if (!fetch) throw invalid('No fetch: pass options.fetch.');
  return {
    hasher,
    fetch,
    clock: options.clock ?? platform.clock ?? systemClock,
    random: options.random ?? platform.random ?? Math.random,
  };
}

/**
 * The URL as an absolute http(s) href. Without a scheme ("example.com/x", or "localhost:8080", which
 * URL would read as scheme "localhost:") it says so and suggests one, as no request could tell.
 */
export function httpUrl(text: string | URL, invalid: Invalid): string {
  const raw = String(text).trim();
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) && !/^[a-z][a-z0-9+.-]*:[^0-9]/i.test(raw)) {
    throw invalid(`URL has no scheme: ${raw} — did you mean ${suggestScheme(raw)}${raw}?`, 'unsupported-url');
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid(`Invalid URL: ${raw}`, 'unsupported-url');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalid(`Only http and https URLs are supported; got ${url.protocol.slice(0, -1)} in ${raw}`, 'unsupported-url');
  }
  return url.href;
}

/** http for this machine and bare addresses (usually a local server), https for names elsewhere. */
/** http:// for this machine and bare addresses (usually a local server), https:// for names elsewhere. */
export function suggestScheme(raw: string): string {
  const host = raw.split(/[/:?#]/, 1)[0]!.toLowerCase();
  const local = host === 'localhost' || host.endsWith('.localhost') || /^[\d.]+$/.test(host) || raw.startsWith('[');
  return local ? 'http://' : 'https://';
}
