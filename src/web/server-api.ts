// The page's own calls to the server (besides uploads, which the engine makes): the file list, and
// the status and removal of remembered uploads. Errors come back as the engine's (FerryError for a
// problem, NetworkError when the server cannot be reached), so one describeFailure() explains both.
import { z } from 'zod';
import { FerryApi, problemFrom } from '../client/api.js';
import { NetworkError, systemClock } from '../client/index.js';
import { FileInfo, Headers, Paths, PROTOCOL_VERSION, type UploadStatus } from '../protocol/index.js';

const FileList = z.object({ files: z.array(FileInfo) });
export type { FileInfo };

const timeoutMs = 30_000;

export class PageApi {
  private readonly api: FerryApi;

  constructor(server: string) {
    this.api = new FerryApi({ server, fetch: (url, init) => fetch(url, init), clock: systemClock, timeoutMs: () => timeoutMs });
  }

  async listFiles(): Promise<FileInfo[]> {
    const url = this.api.url(Paths.files);
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, { headers: { [Headers.version]: String(PROTOCOL_VERSION) }, signal: AbortSignal.timeout(timeoutMs) });
      text = await res.text();
    } catch (e) {
      throw new NetworkError(`GET ${url}: ${(e as Error)?.message ?? e}`, { cause: e });
    }
    if (!res.ok) throw problemFrom(res, text);
    return FileList.parse(JSON.parse(text)).files.map((f) => ({ ...f, fileUrl: this.api.resolve(f.fileUrl) }));
  }

  uploadStatus(uploadUrl: string): Promise<UploadStatus> {
    return this.api.status(uploadUrl, AbortSignal.timeout(timeoutMs));
  }

  discardUpload(uploadUrl: string): Promise<void> {
    return this.api.abort(uploadUrl, AbortSignal.timeout(timeoutMs));
  }
}
