// Which server and which id a command line names: an id (the server is then --server) or a URL of the
// resource (its server is then the one asked, whatever --server says).
import { tokenFor } from './credentials.js';
import { localUploads } from './resume-entries.js';
import { CliError, serverBase } from './server-call.js';

export type ResourceKind = 'files' | 'uploads';

export interface ResourceTarget {
  /** The server's base URL (a path prefix kept, no trailing slash). */
  base: string;
  id: string;
}

const words: Record<ResourceKind, string> = { files: 'file', uploads: 'upload' };

/** "abc" (+ --server) or "http://host/prefix/files/abc?grant=…" -> { base: "http://host/prefix", id: "abc" }. */
export function resourceTarget(text: string, server: string, kind: ResourceKind): ResourceTarget {
  if (!/^https?:\/\//i.test(text)) {
    if (text === '' || text.includes('/')) throw new CliError(`"${text}" is neither a ${words[kind]} id nor a URL.`, 2);
    return { base: serverBase(server), id: text };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CliError(`${text} is not a URL.`, 2);
  }
  const at = url.pathname.lastIndexOf(`/${kind}/`);
  const id = at < 0 ? '' : url.pathname.slice(at + kind.length + 2).split('/')[0]!;
  if (!id) throw new CliError(`${url.origin}${url.pathname} is not a Ferry ${words[kind]} URL (…/${kind}/<id>).`, 2);
  try {
    return { base: url.origin + url.pathname.slice(0, at), id: decodeURIComponent(id) };
  } catch {
    throw new CliError(`${url.origin}${url.pathname}: bad percent-encoding in the ${words[kind]} id.`, 2);
  }
}

/** The path of the resource on its server. */
export function resourceUrl(target: ResourceTarget, kind: ResourceKind): string {
  return `${target.base}/${kind}/${encodeURIComponent(target.id)}`;
}

/**
 * The upload `ferry status`/`abort` name: an id this machine has an entry for is asked of the server it
 * was uploaded to (not --server's), and the token given for --server goes only to --server's origin.
 */
export async function locateUpload(upload: string, server: string, token: string | undefined): Promise<{ target: ResourceTarget; token: string | undefined }> {
  if (/^https?:\/\//i.test(upload)) return { target: resourceTarget(upload, server, 'uploads'), token };
  const known = (await localUploads()).find((u) => u.uploadId === upload);
  const target = resourceTarget(known ? known.uploadUrl : upload, server, 'uploads');
  return { target, token: tokenFor(target.base, server, token) };
}
