// Offset retrieval (HEAD /tus/{id}): where the upload stands, never cached.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../auth/principal.js';
import type { ServerContext } from '../context.js';
import { IetfFields, refuseFields } from './fields.js';
import { loadStreamUpload, notActive } from './lookup.js';
import { isActive, setFields, stateFields } from './state.js';
import { dialectOf } from './versions.js';

export async function retrieveIetfOffset(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, uploadId: string, who: Principal): Promise<void> {
  const d = dialectOf(req);
  // -05 also forbids Upload-Length here; earlier versions only the offset and the completion.
  refuseFields(req, [IetfFields.offset, IetfFields.complete, IetfFields.incomplete, ...(d.limits ? [IetfFields.length] : [])], 'An offset retrieval');
  const upload = await loadStreamUpload(ctx, uploadId, who);
  if (!isActive(upload)) throw notActive(upload);
  setFields(res, stateFields(ctx, req, d, upload));
  res.writeHead(204, { 'cache-control': 'no-store' });
  res.end();
}
