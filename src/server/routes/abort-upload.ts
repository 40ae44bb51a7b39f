// DELETE /uploads/{id}: abandon an upload and free its storage.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../auth/principal.js';
import type { ServerContext } from '../context.js';
import { abortUpload, closedUploadProblem, loadUpload } from '../upload-lifecycle.js';

export async function deleteUpload(
  ctx: ServerContext,
  _req: IncomingMessage,
  res: ServerResponse,
  params: { uploadId: string },
  who: Principal,
): Promise<void> {
  const completing = ctx.completions.get(params.uploadId);
  if (completing) await completing.catch(() => undefined);
  const upload = await loadUpload(ctx, params.uploadId, who);
  if (upload.state === 'complete') throw closedUploadProblem(upload);
  if (upload.state === 'uploading' && !(await abortUpload(ctx, upload))) {
    // Lost a race with completion or expiry: report what it became.
    const now = await loadUpload(ctx, params.uploadId, who);
    if (now.state === 'complete') throw closedUploadProblem(now);
  }
  res.writeHead(204, { 'cache-control': 'no-store' });
  res.end();
}
