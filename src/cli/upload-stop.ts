// Stopping an upload (Ctrl-C, SIGTERM) and the one true line about what the server kept.
// Resumable (the default): the upload stays on the server and in the resume store; the same command
// continues it. --no-resume: such an upload is not recorded, so nothing could ever continue it: delete
// it on the server (as `ferry abort` does) and check that it is gone.
// Either way the engine first lets a creation request in flight finish, so the upload it made is known.
import type { UploadHandle } from '../client/node/index.js';
import { failureWords } from './progress-retry.js';
import { cliFetch } from './http.js';

export type Stopped =
  /** No creation request had gone out: the server has nothing of this file. */
  | { kind: 'none' }
  /** A creation request went out and its answer never came: the server may hold an upload. */
  | { kind: 'unknown' }
  /** Resumable: the upload stays on the server and in the resume store. */
  | { kind: 'resumable'; uploadId: string }
  /** --no-resume: the upload is gone from the server. */
  | { kind: 'removed' }
  /** Too late: every chunk was in and the server made the file. */
  | { kind: 'completed'; fileUrl: string | null }
  /** --no-resume: the server still has it; it will be deleted when it expires. */
  | { kind: 'kept'; uploadId: string; uploadUrl: string; why: string };

/** Default mode: stop, keeping the upload (and its resume entry) for the same command to continue. */
export async function keepUpload(handle: UploadHandle): Promise<Stopped> {
  await handle.suspend();
  const finished = await handle.result.catch(() => null);
  if (finished) return { kind: 'completed', fileUrl: finished.fileUrl };
  return stoppedNow(handle);
}

/** What stopping `handle` now, without waiting, leaves (resumable mode). */
export function stoppedNow(handle: UploadHandle): Stopped {
  if (handle.uploadId !== null) return { kind: 'resumable', uploadId: handle.uploadId };
  return handle.creationUnanswered ? { kind: 'unknown' } : { kind: 'none' };
}

/** --no-resume: stop and delete the upload on the server, then check what became of it. */
export async function discardUpload(handle: UploadHandle, headers: Record<string, string>): Promise<Stopped> {
  // Cancels the requests in flight and sends the DELETE (best effort: it does not say how that went).
  await handle.abort();
  const { uploadId, uploadUrl } = handle;
  if (uploadId === null || uploadUrl === null) return handle.creationUnanswered ? { kind: 'unknown' } : { kind: 'none' };
  try {
    let state = await stateOf(uploadUrl, headers);
    if (state.state === 'uploading' || state.state === 'completing') {
      const res = await cliFetch(uploadUrl, { method: 'DELETE', headers });
      await res.body?.cancel();
      state = await stateOf(uploadUrl, headers);
    }
    if (state.state === 'complete') return { kind: 'completed', fileUrl: state.fileUrl };
    if (state.state === 'gone' || state.state === 'aborted' || state.state === 'expired' || state.state === 'failed') return { kind: 'removed' };
    return { kind: 'kept', uploadId, uploadUrl, why: `the server says it is ${state.state}` };
  } catch (error) {
    return { kind: 'kept', uploadId, uploadUrl, why: failureWords(error) };
  }
}

async function stateOf(uploadUrl: string, headers: Record<string, string>): Promise<{ state: string; fileUrl: string | null }> {
  const res = await cliFetch(uploadUrl, { headers: { accept: 'application/json', ...headers } });
  const body = (await res.json().catch(() => null)) as { state?: unknown; fileUrl?: unknown } | null;
  if (res.status === 404 || res.status === 410) return { state: 'gone', fileUrl: null };
  if (!res.ok || typeof body?.state !== 'string') throw Object.assign(new Error(`HTTP ${res.status}`), { status: res.status });
  return { state: body.state, fileUrl: typeof body.fileUrl === 'string' ? body.fileUrl : null };
}

/** The outcome's name in the --json "stopped" event: whether the server keeps something. */
export function outcomeName(outcome: Stopped): string {
  return outcome.kind === 'resumable' ? 'kept' : outcome.kind;
}

/** The one line that says how the stop ended; `finishedBefore` counts files of this run uploaded before it. */
export function stoppedMessage(outcome: Stopped, finishedBefore: number): string {
  const before = finishedBefore === 0 ? '' : `; ${filesStay(finishedBefore)}`;
  switch (outcome.kind) {
    case 'none':
      return finishedBefore === 0 ? 'stopped before anything was sent' : `stopped before anything of the next file was sent${before}`;
    case 'unknown':
      return `stopped; the server may keep a partial upload until it expires${before}`;
    case 'resumable':
      return 'Stopped. Run the same command again to resume.';
    case 'removed':
      if (finishedBefore === 0) return 'stopped; nothing kept (--no-resume)';
      return `stopped; nothing kept of the unfinished file (--no-resume)${before}`;
    case 'completed':
      return `stopped, but the upload had already completed${outcome.fileUrl ? `: ${outcome.fileUrl}` : ''}`;
    case 'kept':
      // By URL: a --no-resume upload has no local entry, so an id alone would be looked for on the default server.
      return `stopped; could not remove upload ${outcome.uploadId} from the server (${outcome.why}): run ferry abort ${outcome.uploadUrl}, or it goes when it expires`;
  }
}

function filesStay(n: number): string {
  return n === 1 ? 'the 1 file uploaded before it stays' : `the ${n} files uploaded before it stay`;
}
