// Upload cancellation (DELETE /tus/{id}): the upload ends and its storage is freed.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../auth/principal.js';
import type { ServerContext } from '../context.js';
import { abortUpload } from '../upload-lifecycle.js';
import { IetfFields, refuseFields } from './fields.js';
import { loadStreamUpload, notActive } from './lookup.js';
import { completedUpload } from './problems.js';
import { isComplete } from './state.js';
import { dialectOf } from './versions.js';

export async function cancelIetfUpload(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, uploadId: string, who: Principal): Promise<void> {
  const d = dialectOf(req);
  refuseFields(req, [IetfFields.offset, IetfFields.complete, IetfFields.incomplete], 'An upload cancellation');
  const upload = await loadStreamUpload(ctx, uploadId, who);
  // A complete upload is a file now: DELETE /files/{id} removes that, not this.
  if (isComplete(upload)) throw completedUpload(upload.id);
  if (upload.state !== 'uploading') throw notActive(upload);
  if (!(await abortUpload(ctx, upload))) {
    // Lost a race with completion, expiry or another cancellation: only a completion is news to the client.
    const now = await loadStreamUpload(ctx, uploadId, who);
    if (isComplete(now)) throw completedUpload(now.id);
  }
  res.writeHead(204, { 'cache-control': 'no-store', [IetfFields.interopVersion]: String(d.version) });
  res.end();
}
