// Every answer that carries the file's bytes must be of the representation the download started with
// (the one the probe pinned). Through a redirect, the answer may come from another place than the
// probe's (another mirror, a newly signed URL): it must then show the pinned validators itself, as a
// range from a resource that cannot be told apart from another could stitch two versions together.
import { remoteChanged } from './errors.js';
import type { Exchange } from './http.js';
import type { RemoteInfo } from './probe.js';

/** Throws remote-changed when `ex`'s answer is not of the pinned representation of `remote`. */
export function checkPinned(ex: Exchange, remote: RemoteInfo): void {
  const h = ex.response.headers;
  const etag = h.get('etag');
  if (etag !== null && remote.etag !== null && etag !== remote.etag) throw remoteChanged(`its ETag is now ${etag}`);
  if (ex.finalUrl === remote.finalUrl) return;
  const where = `the redirect now leads to ${new URL(ex.finalUrl).host}`;
  if (remote.etag !== null) {
    if (etag === null) throw remoteChanged(`${where}, which does not show its ETag`);
  } else if (remote.lastModified !== null) {
    const lastModified = h.get('last-modified');
    if (lastModified !== remote.lastModified) throw remoteChanged(`${where}, last modified ${lastModified ?? 'at an unknown time'}`);
  } else if (remote.mode !== 'stream' && resourceOf(ex.finalUrl) !== resourceOf(remote.finalUrl)) {
    // Nothing to compare: the place is all that tells the bytes apart. A signed URL's query changes on
    // every request, so it does not count. (A stream is one answer from one place: nothing to stitch.)
    throw remoteChanged(`the redirect now leads to ${resourceOf(ex.finalUrl)}, and neither place shows an ETag or Last-Modified`);
  }
}

/** The resource a URL names: without its query (a signature that changes per request) or fragment. */
function resourceOf(url: string): string {
  const u = new URL(url);
  return u.origin + u.pathname;
}
