// `ferry status` without an upload: the uploads this machine can resume (the resume store), each with
// what its server has of it now.
import { UploadStatus } from '../protocol/index.js';
import { authHeaders, tokenFor } from './credentials.js';
import { formatBytes } from './format.js';
import { localUploads, type LocalUpload } from './resume-entries.js';
import { formatTable, isoSeconds, printable } from './table.js';
import { cliFetch } from './http.js';

/** How long one server may take to answer before its uploads are shown as unreachable. */
const askTimeoutMs = 5_000;

/** What the server said of one upload: its status, or why there is none. */
type ServerView = { status: UploadStatus } | { problem: string };

export async function listUnfinished(o: { server: string; token?: string; json?: boolean }): Promise<number> {
  const uploads = await localUploads();
  const views = await Promise.all(uploads.map((u) => ask(u, tokenFor(u.uploadUrl, o.server, o.token))));
  if (o.json) {
    const list = uploads.map((u, i) => {
      const { key: _key, ...entry } = u;
      const view = views[i]!;
      return {
        ...entry,
        createdAt: new Date(u.createdAt).toISOString(),
        expiresAt: new Date(u.expiresAt).toISOString(),
        server: 'status' in view ? view.status : null,
        ...('problem' in view && { problem: view.problem }),
      };
    });
    process.stdout.write(JSON.stringify({ uploads: list }) + '\n');
    return 0;
  }
  if (uploads.length === 0) {
    process.stderr.write('no unfinished uploads\n');
    return 0;
  }
  const rows = [['NAME', 'SIZE', 'ON SERVER', 'EXPIRES', 'URL'], ...uploads.map((u, i) => row(u, views[i]!))];
  process.stdout.write(formatTable(rows, new Set([1, 2])) + '\n');
  process.stderr.write('`ferry upload <file>` resumes one; `ferry abort <url>` gives one up.\n');
  return 0;
}

function row(u: LocalUpload, view: ServerView): string[] {
  let held: string;
  let expires = isoSeconds(u.expiresAt);
  if ('status' in view) {
    const s = view.status;
    const percent = s.size > 0 ? Math.floor((s.bytesReceived / s.size) * 100) : 100;
    held = s.state === 'uploading' ? `${formatBytes(s.bytesReceived)} (${percent}%)` : s.state;
    expires = s.state === 'uploading' ? isoSeconds(s.expiresAt) : '-';
  } else {
    held = view.problem;
  }
  return [printable(u.name), formatBytes(u.size), held, expires, u.uploadUrl];
}

/** GET the upload's status; a short word for the table when there is none. */
async function ask(u: LocalUpload, token: string | undefined): Promise<ServerView> {
  let res: Response;
  try {
    res = await cliFetch(u.uploadUrl, { headers: { accept: 'application/json', ...authHeaders(token) }, signal: AbortSignal.timeout(askTimeoutMs) });
  } catch {
    return { problem: 'unreachable' };
  }
  const body = await res.json().catch(() => null);
  if (res.status === 404) return { problem: 'gone' };
  if (res.status === 401 || res.status === 403) return { problem: `refused (${res.status})` };
  const parsed = UploadStatus.safeParse(body);
  return parsed.success && res.ok ? { status: parsed.data } : { problem: `HTTP ${res.status}` };
}
