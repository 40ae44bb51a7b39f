// Learns what is at a URL before downloading it: a Ferry file (its manifest: size, chunks, digests,
// ETag) or any HTTP resource (HEAD, else a one-byte range: size, ETag, Last-Modified, Accept-Ranges,
// Repr-Digest, Content-Disposition).
import { FileManifest, formatDigest, MediaTypes, parseContentRange, parseDigestField, ProblemTypeBase } from '../../protocol/index.js';
import { NetworkError } from '../engine/errors.js';
import { problemFrom } from '../engine/http-problem.js';
import { withRetry, type RetryContext, type RetryEvent } from '../engine/retry-loop.js';
import { httpDeps, retryContext } from './context.js';
import { toDownloadError } from './errors.js';
import { Exchange, type HttpDeps } from './http.js';
import { fileNameFromDisposition } from './name.js';
import { resolveDownloadOptions, type DownloadIo, type DownloadOptions } from './options.js';

/** manifest: a Ferry server, every chunk verified; ranges: parallel ranges; stream: one GET, no resume. */
export type DownloadMode = 'manifest' | 'ranges' | 'stream';

export interface RemoteInfo {
  url: string;
  /**
   * Where the probe's answer came from after redirects (the resource the validators below are of);
   * `url` when there were none. Requests still go to `url`, following its redirect each time.
   */
  finalUrl: string;
  mode: DownloadMode;
  /** Bytes; null only in stream mode when the server does not say. */
  size: number | null;
  /** The ETag as sent (quoted; may be weak), or null. */
  etag: string | null;
  lastModified: string | null;
  /** The whole file's digest, "sha-256=:B64:", when the server offers one. */
  reprDigest: string | null;
  /** The name the server suggests (manifest name or Content-Disposition), unsanitized. */
  fileName: string | null;
  manifest: FileManifest | null;
}

export interface ProbeContext {
  http: HttpDeps;
  retry: RetryContext;
  signal: AbortSignal;
}

/** A manifest is at most ~100 bytes per chunk and 10,000 chunks; anything far larger is not one. */
const maxManifestChars = 16 * 1024 * 1024;

export async function probeRemote(c: ProbeContext, url: string): Promise<RemoteInfo> {
  const manifest = await withRetry(() => fetchManifest(c, url), c.retry, { what: 'GET manifest' }, c.signal);
  if (manifest) {
    return {
      url,
      finalUrl: url,
      mode: 'manifest',
      size: manifest.size,
      etag: manifest.etag,
      lastModified: null,
      reprDigest: manifest.fileDigest,
      fileName: manifest.name,
      manifest,
    };
  }
  return withRetry(() => probePlain(c, url), c.retry, { what: `HEAD ${url}` }, c.signal);
}

/** The manifest's URL: the file's path plus "/manifest" (a query string stays at the end). */
export function manifestUrl(url: string): string {
  const u = new URL(url);
  u.pathname = u.pathname.replace(/\/+$/, '') + '/manifest';
  return u.href;
}

/**
 * null: not a Ferry file (404 or any other final 4xx, not JSON, not a manifest) → plain HTTP. A Ferry
 * server's own answer that the credential is missing or refused (401/403) or that there is no such
 * file is the answer, not a hint: it is thrown.
 */
async function fetchManifest(c: ProbeContext, url: string): Promise<FileManifest | null> {
  let ex: Exchange;
  try {
    ex = await Exchange.open(c.http, 'GET', manifestUrl(url), { accept: MediaTypes.json }, c.signal);
  } catch (e) {
    if (notAFerryManifest(e, c.retry.contact?.answered ?? false)) return null;
    throw e;
  }
  try {
    const res = ex.response;
    if (!res.ok) {
      const text = await ex.text();
      const problem = problemFrom(res, text);
      // Other servers' 401/403 (an S3 or GCS signed URL refuses a path it was not signed for) fall through.
      const final = res.status === 401 || res.status === 403 || problem.code === 'file-not-found';
      if (final && isFerryProblem(res, text)) throw problem;
      if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) return null;
      throw problem;
    }
    if (!/json/i.test(res.headers.get('content-type') ?? '')) return null;
    let json: unknown;
    try {
      json = JSON.parse(await ex.text(maxManifestChars));
    } catch {
      return null;
    }
    const parsed = FileManifest.safeParse(json);
    return parsed.success ? parsed.data : null;
  } finally {
    ex.close();
  }
}

/**
 * A request for `<url>/manifest` that got no answer, in a way that says the manifest is not there to
 * be had rather than that the server is down: its redirects loop (a front that canonicalizes any
 * unknown path), or, before the origin ever answered, a redirect to a place that cannot be reached
 * (nothing listening, no such host, TLS refused). A Ferry server does not send its manifest
 * elsewhere. When it is the origin itself that cannot be reached, the plain probe's HEAD meets the
 * same failure and fails at once just the same; once the origin has answered, such a failure is an
 * outage (a restart's probe), waited for here as anywhere else.
 */
function notAFerryManifest(e: unknown, answered: boolean): boolean {
  if (!(e instanceof NetworkError)) return false;
  if (e.code === 'redirects') return true;
  return !answered && (e.code === 'connection-refused' || e.code === 'unknown-host' || e.code === 'tls' || e.code === 'unsupported-url');
}

/** A problem+json body whose type is one of Ferry's own. */
function isFerryProblem(res: Response, text: string): boolean {
  if (!/problem\+json/i.test(res.headers.get('content-type') ?? '')) return false;
  try {
    const type = (JSON.parse(text) as { type?: unknown }).type;
    return typeof type === 'string' && type.startsWith(ProblemTypeBase);
  } catch {
    return false;
  }
}

/** HEAD answers that do not settle anything: the one-byte GET is asked instead. */
const headFallback = new Set([401, 403, 405, 501]);

async function probePlain(c: ProbeContext, url: string): Promise<RemoteInfo> {
  const head = await Exchange.open(c.http, 'HEAD', url, {}, c.signal);
  try {
    const res = head.response;
    const length = res.headers.get('content-length');
    if (res.ok && length !== null && /^\d+$/.test(length)) {
      return fromHeaders(url, head.finalUrl, res.headers, Number(length), /\bbytes\b/i.test(res.headers.get('accept-ranges') ?? ''));
    }
    // Servers without HEAD (405/501) or without a length there get asked for the first byte below. So
    // do 401/403: an S3 or GCS signed URL signs the method, so its HEAD is refused where its GET is not;
    // when the GET is refused too, that answer is the one thrown (and fails at once).
    if (!res.ok && !headFallback.has(res.status)) throw problemFrom(res, '');
  } finally {
    head.close();
  }
  const first = await Exchange.open(c.http, 'GET', url, { range: 'bytes=0-0' }, c.signal);
  try {
    const res = first.response;
    const range = parseContentRange(res.headers.get('content-range'));
    if ((res.status === 206 || res.status === 416) && range && range.size !== undefined) {
      return fromHeaders(url, first.finalUrl, res.headers, range.size, true);
    }
    if (!res.ok) throw problemFrom(res, await first.text());
    const length = res.headers.get('content-length');
    return fromHeaders(url, first.finalUrl, res.headers, length !== null && /^\d+$/.test(length) ? Number(length) : null, false);
  } finally {
    first.close();
  }
}

function fromHeaders(url: string, finalUrl: string, h: Headers, size: number | null, ranges: boolean): RemoteInfo {
  return {
    url,
    finalUrl,
    mode: ranges && size !== null ? 'ranges' : 'stream',
    size,
    etag: h.get('etag'),
    lastModified: h.get('last-modified'),
    reprDigest: reprDigestOf(h.get('repr-digest')),
    fileName: fileNameFromDisposition(h.get('content-disposition')),
    manifest: null,
  };
}

/** The sha-256 member of a Repr-Digest field; null when absent, malformed or another algorithm. */
function reprDigestOf(value: string | null): string | null {
  if (!value) return null;
  try {
    return formatDigest(parseDigestField(value, 'sha-256'));
  } catch {
    return null;
  }
}

/**
 * The If-Range value that pins the representation: a strong ETag, else the Last-Modified date
 * (RFC 9110 §13.1.5); null when the server gives neither and a change cannot be detected.
 */
export function rangeValidator(remote: RemoteInfo): string | null {
  if (remote.etag && remote.etag.startsWith('"')) return remote.etag;
  return remote.lastModified;
}

/** A probe on its own has no handle to emit 'retry' on: it tells `onRetry` (e.g. to show "connecting…"). */
export interface ProbeOptions extends DownloadOptions {
  onRetry?: (event: RetryEvent) => void;
}

/** Probes a URL on its own (e.g. to pick a file name before downloading), with the download's retries. */
export async function probeUrl(url: string | URL, options: ProbeOptions = {}, platform: Partial<DownloadIo> = {}): Promise<RemoteInfo> {
  const o = resolveDownloadOptions(url, options, platform);
  const contact = { answered: false };
  const c: ProbeContext = { http: httpDeps(o, contact), retry: retryContext(o, contact, options.onRetry), signal: options.signal ?? new AbortController().signal };
  try {
    return await probeRemote(c, o.url);
  } catch (e) {
    throw toDownloadError(e);
  }
}
