// The sidecar `<destination>.part.ferry`: which chunks of the `.part` are written, verified and
// durable, and which remote they came from. JSON, so a person can read it; validated on load.
import { z } from 'zod';
import { formatIndexRanges, parseIndexRanges } from '../../protocol/index.js';
import type { DownloadMode, RemoteInfo } from './probe.js';

const Sidecar = z.object({
  version: z.literal(1),
  url: z.string(),
  /** Where the URL's redirects led when the download started (origin and path only), if elsewhere. */
  finalUrl: z.string().optional(),
  mode: z.enum(['manifest', 'ranges', 'stream']),
  size: z.number().int().nonnegative().nullable(),
  chunkSize: z.number().int().positive(),
  etag: z.string().nullable(),
  lastModified: z.string().nullable(),
  /** Done chunk indexes as ascending inclusive ranges, "0-3,7". */
  done: z.string(),
  updatedAt: z.string(),
});
export type DownloadState = z.infer<typeof Sidecar>;

/** The sidecar's content, or null when it is unreadable (then nothing is trusted; start over). */
export function parseState(text: string | null): DownloadState | null {
  if (text === null) return null;
  try {
    const parsed = Sidecar.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export function initialState(remote: RemoteInfo, chunkSize: number): DownloadState {
  return {
    version: 1,
    url: sidecarUrl(remote.url),
    ...(remote.finalUrl !== remote.url ? { finalUrl: withoutQuery(remote.finalUrl) } : {}),
    mode: remote.mode,
    size: remote.size,
    chunkSize,
    etag: remote.etag,
    lastModified: remote.lastModified,
    done: '',
    updatedAt: new Date(0).toISOString(),
  };
}

export function serializeState(state: DownloadState, done: Iterable<number>, now: number): string {
  const sorted = [...done].sort((a, b) => a - b);
  return JSON.stringify({ ...state, done: formatIndexRanges(sorted), updatedAt: new Date(now).toISOString() }) + '\n';
}

/** The done indexes of a sidecar; null when they do not fit a file of `totalChunks` chunks. */
export function doneChunks(state: DownloadState, totalChunks: number): number[] | null {
  // Bound every number before expanding, so a damaged sidecar cannot make a huge array.
  if ((state.done.match(/\d+/g) ?? []).some((n) => Number(n) >= totalChunks)) return null;
  try {
    return [...new Set(parseIndexRanges(state.done))];
  } catch {
    return null;
  }
}

export interface ResumeRefusal {
  /** remote-changed: the bytes on the server are not those in the `.part`. */
  kind: 'remote-changed' | 'cannot-resume';
  message: string;
}

/** Why the `.part` described by `state` cannot be continued from `remote`; null when it can. */
export function resumeRefusal(state: DownloadState, remote: RemoteInfo): ResumeRefusal | null {
  const cannot = (message: string): ResumeRefusal => ({ kind: 'cannot-resume', message });
  // Stripped on both sides: a sidecar written before a parameter joined the list still matches.
  const from = safeSidecarUrl(state.url);
  if (from !== sidecarUrl(remote.url)) return cannot(`the partial file came from ${from ?? 'an unreadable URL'}; starting over`);
  if (remote.mode === 'stream' || state.mode === 'stream') return cannot('the server does not accept ranges, so resuming is impossible; starting over');
  if (state.mode !== remote.mode) return cannot(`the server now answers as ${describe(remote.mode)}; starting over`);
  if (remote.etag === null && remote.lastModified === null) {
    return cannot('the server sends neither ETag nor Last-Modified, so a partial file cannot be trusted; starting over');
  }
  const changed =
    state.size !== remote.size || (remote.etag !== null ? state.etag !== remote.etag : state.lastModified !== remote.lastModified);
  return changed ? { kind: 'remote-changed', message: 'remote changed, starting over' } : null;
}

/**
 * Query parameters that carry a credential (compared lowercased): a share link's grant, bearer tokens
 * put in the URL, Azure SAS and CloudFront signatures (sig, Signature), and, by prefix, everything of
 * an S3 or GCS signed URL (X-Amz-Signature, X-Amz-Credential, X-Amz-Security-Token, X-Goog-...), whose
 * other members (date, expiry) change with each signing as well.
 */
const credentialParams = new Set(['grant', 'token', 'access_token', 'auth', 'sig', 'signature']);
const credentialPrefixes = ['x-amz-', 'x-goog-'];

function isCredentialParam(name: string): boolean {
  const n = name.toLowerCase();
  return credentialParams.has(n) || credentialPrefixes.some((p) => n.startsWith(p));
}

/**
 * The remote as the sidecar names it: without a user and password and without the query parameters
 * that are credentials (see credentialParams). They have no place on disk, and a fresh link for the
 * same file (a new grant, a newly signed URL) names the same remote, so the download resumes with it.
 */
export function sidecarUrl(url: string): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  for (const name of new Set(u.searchParams.keys())) if (isCredentialParam(name)) u.searchParams.delete(name);
  return u.href;
}

/** sidecarUrl of a URL read from disk, which may be anything; null when it is not a URL. */
function safeSidecarUrl(url: string): string | null {
  try {
    return sidecarUrl(url);
  } catch {
    return null;
  }
}

/** A redirect target's query is often a signed URL's credential (X-Amz-Signature=...): not kept on disk. */
function withoutQuery(url: string): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  u.search = '';
  u.hash = '';
  return u.href;
}

function describe(mode: DownloadMode): string {
  return mode === 'manifest' ? 'a Ferry server' : 'a plain HTTP server';
}
