// The creation request, the one request an abort lets finish. Once it went out, the server may
// create the upload, and only the answer names it: cut off, it would leave an upload that nothing
// can resume or delete, holding its size against the server's limits until it expires.
import { FerryError, type CreateUploadResponse } from '../../protocol/index.js';
import type { UploadContext } from './context.js';

/** How long an abort waits for the creation's answer before cancelling it (the request's own timeout may end it first). */
export const creationGraceMs = 5_000;

/** Sends one creation attempt with `send`, recording in ctx.server what the server may now hold. */
export async function sendCreation(
  ctx: UploadContext,
  send: (signal: AbortSignal) => Promise<CreateUploadResponse>,
): Promise<CreateUploadResponse> {
  const { signal } = ctx;
  if (signal.aborted) throw signal.reason;
  const request = new AbortController();
  const answered = new AbortController();
  const onAbort = () =>
    void ctx.o.io.clock.sleep(creationGraceMs, answered.signal).then(
      () => request.abort(signal.reason),
      () => {},
    );
  signal.addEventListener('abort', onAbort, { once: true });
  ctx.server.unanswered = true;
  try {
    const created = await send(request.signal);
    ctx.server.unanswered = false;
    ctx.server.upload = { uploadId: created.uploadId, uploadUrl: created.uploadUrl };
    return created;
  } catch (e) {
    // An error status: the server answered and created nothing (creation is atomic).
    if (e instanceof FerryError) ctx.server.unanswered = false;
    throw e;
  } finally {
    answered.abort();
    signal.removeEventListener('abort', onAbort);
  }
}
