// Stopping a --no-resume upload (Ctrl-C, SIGTERM): such an upload is not recorded, so nothing could
// ever continue it. Delete it on the server (as `ferry abort` does) and check that it is gone, so the
// message can say what is true.
import type { UploadHandle } from '../client/node/index.js';
import { failureWords } from './progress-retry.js';
import { cliFetch } from './http.js';

export interface CreatedUpload {
  uploadId: string;
  uploadUrl: string;
}

export type Discarded =
  /** The upload is gone from the server (or was never created). */
  | { kind: 'removed' }
  /** Too late: every chunk was in and the server made the file. */
  | { kind: 'completed'; fileUrl: string | null }
  /** The server still has it: it will be deleted when it expires. */
  | { kind: 'kept'; uploadId: string; why: string };

export async function discardUpload(handle: UploadHandle, created: CreatedUpload | null, headers: Record<string, string>): Promise<Discarded> {
  // Cancels the requests in flight and sends the DELETE (best effort: it does not say how that went).
  await handle.abort();
  if (created === null) return { kind: 'removed' };
  try {
    let state = await stateOf(created.uploadUrl, headers);
    if (state.state === 'uploading' || state.state === 'completing') {
      const res = await cliFetch(created.uploadUrl, { method: 'DELETE', headers });
      await res.body?.cancel();
      state = await stateOf(created.uploadUrl, headers);
    }
    if (state.state === 'complete') return { kind: 'completed', fileUrl: state.fileUrl };
    if (state.state === 'gone' || state.state === 'aborted' || state.state === 'expired' || state.state === 'failed') return { kind: 'removed' };
    return { kind: 'kept', uploadId: created.uploadId, why: `the server says it is ${state.state}` };
  } catch (error) {
    return { kind: 'kept', uploadId: created.uploadId, why: failureWords(error) };
  }
}

async function stateOf(uploadUrl: string, headers: Record<string, string>): Promise<{ state: string; fileUrl: string | null }> {
  const res = await cliFetch(uploadUrl, { headers: { accept: 'application/json', ...headers } });
  const body = (await res.json().catch(() => null)) as { state?: unknown; fileUrl?: unknown } | null;
  if (res.status === 404 || res.status === 410) return { state: 'gone', fileUrl: null };
  if (!res.ok || typeof body?.state !== 'string') throw Object.assign(new Error(`HTTP ${res.status}`), { status: res.status });
  return { state: body.state, fileUrl: typeof body.fileUrl === 'string' ? body.fileUrl : null };
}

/** The one line that says how the stop ended; `finishedBefore` counts files of this run uploaded before it. */
export function stoppedMessage(outcome: Discarded, finishedBefore: number): string {
  switch (outcome.kind) {
    case 'removed':
      if (finishedBefore === 0) return 'stopped; nothing kept (--no-resume)';
      return `stopped; nothing kept of the unfinished file (--no-resume); the ${finishedBefore} file${finishedBefore === 1 ? '' : 's'} uploaded before it stay`;
    case 'completed':
      return `stopped, but the upload had already completed${outcome.fileUrl ? `: ${outcome.fileUrl}` : ''}`;
    case 'kept':
      return `stopped; could not remove upload ${outcome.uploadId} from the server (${outcome.why}): run ferry abort ${outcome.uploadId}, or it goes when it expires`;
  }
}
