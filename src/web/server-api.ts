// The page's own calls to the server (besides uploads, which the engine makes): who is signed in, the
// file list a page at a time, deleting and sharing files, and the status and removal of remembered
// uploads. Every call carries the page's credential. Errors come back as the engine's (FerryError for
// a problem, NetworkError when the server cannot be reached), so one describeFailure() explains both;
// a 401 is also handed to `onUnauthorized`, so the page can ask for a credential again.
import { z } from 'zod';
import { FerryApi } from '../client/upload/api.js';
import { problemFrom } from '../client/engine/http-problem.js';
import { NetworkError, systemClock } from '../client/index.js';
import { FerryError, FileInfo, Headers, Paths, PROTOCOL_VERSION, type UploadStatus } from '../protocol/index.js';

const FileList = z.object({ files: z.array(FileInfo), nextCursor: z.string().nullable().optional() });
export type { FileInfo };

export interface FilesPage {
  files: FileInfo[];
  /** Pass to listFiles() for the next page; null on the last one. */
  nextCursor: string | null;
}

const GrantScope = z.object({
  upload: z.object({ maxBytes: z.number() }).passthrough().optional(),
  read: z.array(z.string()).optional(),
  files: z.enum(['read', 'write']).optional(),
});

const Whoami = z.object({
  identity: z.string(),
  role: z.string(),
  via: z.enum(['open', 'key', 'grant']),
  auth: z.enum(['open', 'token']),
  scope: GrantScope.optional(),
  expiresAt: z.string().optional(),
});
export type Whoami = z.infer<typeof Whoami>;

const ShareLink = z.object({ fileId: z.string(), url: z.string(), expiresAt: z.string() });
export type ShareLink = z.infer<typeof ShareLink>;

/** Files per page of the list ("Show more" fetches the next). */
export const filesPageSize = 50;

const timeoutMs = 30_000;

export interface PageApiOptions {
  /** The credential to send now (it changes as people sign in and out), or null. */
  credential(): string | null;
  /** Called with every 401 (no, a bad or an expired credential) and the credential sent, before the error is thrown. */
  onUnauthorized(error: FerryError, used: string | null): void;
}

export class PageApi {
  private readonly api: FerryApi;

  constructor(
    server: string,
    private readonly o: PageApiOptions,
  ) {
    this.api = new FerryApi({ server, fetch: (url, init) => fetch(url, this.withAuth(init)), clock: systemClock, timeoutMs: () => timeoutMs });
  }

  /** The Authorization header for the current credential (also given to the upload engine). */
  authHeaders(): Record<string, string> {
    const token = this.o.credential();
    return token ? { authorization: `Bearer ${token}` } : {};
  }

  whoami(): Promise<Whoami> {
    return this.call('GET', '/whoami', Whoami);
  }

  async listFiles(cursor?: string | null): Promise<FilesPage> {
    const q = new URLSearchParams({ limit: String(filesPageSize) });
    if (cursor) q.set('cursor', cursor);
    const page = await this.call('GET', `${Paths.files}?${q}`, FileList);
    return { files: page.files.map((f) => ({ ...f, fileUrl: this.api.resolve(f.fileUrl) })), nextCursor: page.nextCursor ?? null };
  }

  deleteFile(fileId: string): Promise<void> {
    return this.call('DELETE', Paths.file(fileId), null);
  }

  /** A signed download link for one file that works without a credential until it expires. */
  shareFile(fileId: string, expiresInSeconds?: number): Promise<ShareLink> {
    const body = expiresInSeconds === undefined ? undefined : JSON.stringify({ expiresInSeconds });
    return this.call('POST', `${Paths.file(fileId)}/share`, ShareLink, body);
  }

  uploadStatus(uploadUrl: string): Promise<UploadStatus> {
    return this.noticing(() => this.api.status(uploadUrl, AbortSignal.timeout(timeoutMs)));
  }

  discardUpload(uploadUrl: string): Promise<void> {
    return this.noticing(() => this.api.abort(uploadUrl, AbortSignal.timeout(timeoutMs)));
  }

  private withAuth(init: RequestInit | undefined): RequestInit {
    return { ...init, headers: { ...(init?.headers as Record<string, string> | undefined), ...this.authHeaders() } };
  }

  /** Runs `request` (which sends the credential of now) and hands a 401 to onUnauthorized. */
  private async noticing<T>(request: () => Promise<T>): Promise<T> {
    const used = this.o.credential();
    try {
      return await request();
    } catch (e) {
      if (e instanceof FerryError && e.status === 401) this.o.onUnauthorized(e, used);
      throw e;
    }
  }

  private call<S extends z.ZodType>(method: string, path: string, schema: S, body?: string): Promise<z.infer<S>>;
  private call(method: string, path: string, schema: null, body?: string): Promise<void>;
  private call(method: string, path: string, schema: z.ZodType | null, body?: string): Promise<unknown> {
    return this.noticing(async () => {
      const url = this.api.url(path);
      const headers: Record<string, string> = { [Headers.version]: String(PROTOCOL_VERSION), ...this.authHeaders() };
      if (body !== undefined) headers['content-type'] = 'application/json';
      let res: Response;
      let text: string;
      try {
        res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(timeoutMs) });
        text = await res.text();
      } catch (e) {
        throw new NetworkError(`${method} ${url}: ${(e as Error)?.message ?? e}`, { cause: e });
      }
      if (!res.ok) throw problemFrom(res, text);
      return schema === null ? undefined : schema.parse(JSON.parse(text));
    });
  }
}
