// DELETE /uploads/{id}: abandon an upload and free its storage.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../auth/principal.js';
import { completeUpload } from '../completion.js';
import type { ServerContext } from '../context.js';
import { abortUpload, closedUploadProblem, loadUpload } from '../upload-lifecycle.js';

export async function deleteUpload(
  ctx: ServerContext,
  _req: IncomingMessage,
  res: ServerResponse,
  params: { uploadId: string },
  who: Principal,
): Promise<void> {
  let upload = await loadUpload(ctx, params.uploadId, who);
  if (upload.state === 'completing') {
    // Too late to abort: the file is being assembled (here or on another node). Report how it ends.
    await completeUpload(ctx, upload).catch(() => null);
    upload = await loadUpload(ctx, params.uploadId, who);
  }
  if (upload.state === 'complete' || upload.state === 'completing') throw closedUploadProblem(upload);
  if (upload.state === 'uploading' && !(await abortUpload(ctx, upload))) {
    // Lost a race with completion or expiry: report what it became.
    const now = await loadUpload(ctx, params.uploadId, who);
    if (now.state === 'complete' || now.state === 'completing') throw closedUploadProblem(now);
  }
  res.writeHead(204, { 'cache-control': 'no-store' });
  res.end();
}
