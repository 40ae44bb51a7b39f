// The page's upload settings: the server is wherever the page came from; a few engine options can be
// set in the query string (?concurrency=1&chunkSize=1048576), for tests and for people on odd links.
import type { UploadOptions } from '../client/index.js';

export interface PageSettings {
  /** The Ferry server: the directory the page was served from (so a path prefix behind a proxy works). */
  server: string;
  options: Pick<UploadOptions, 'concurrency' | 'maxConcurrency' | 'chunkSize'>;
}

/**
 * Browsers open at most 6 HTTP/1.1 connections per server; more chunks "in flight" would only queue
 * inside the browser with their timeouts running, so the adaptive limit stops there.
 */
const browserMaxConcurrency = 6;

export function readSettings(location: { href: string }): PageSettings {
  const url = new URL(location.href);
  const q = url.searchParams;
  const options: PageSettings['options'] = { maxConcurrency: browserMaxConcurrency };
  const concurrency = positiveInt(q.get('concurrency'));
  if (concurrency !== undefined) options.concurrency = concurrency;
  const chunkSize = positiveInt(q.get('chunkSize'));
  if (chunkSize !== undefined) options.chunkSize = chunkSize;
  return { server: new URL('.', url).href, options };
}

function positiveInt(text: string | null): number | undefined {
  if (text === null || !/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}
