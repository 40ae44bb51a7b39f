// PUT /uploads/{id}/chunks/{index}: one chunk's bytes, verified against Content-Digest.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FerryError } from '../../protocol/index.js';
import { receiveChunk } from '../chunk-receiver.js';
import type { Principal } from '../auth/principal.js';
import type { ServerContext } from '../context.js';
import { baseUrl, sendJson } from '../http.js';
import { loadUpload } from '../upload-lifecycle.js';

export async function putChunk(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  params: { uploadId: string; index: string },
  who: Principal,
): Promise<void> {
  if (!/^\d{1,9}$/.test(params.index)) {
    throw new FerryError('invalid-chunk-index', `"${params.index.slice(0, 40)}" is not a chunk index (a non-negative integer).`);
  }
  const upload = await loadUpload(ctx, params.uploadId, who);
  const { status, ack } = await receiveChunk(ctx, req, upload, Number(params.index), baseUrl(req, ctx));
  sendJson(res, status, ack);
}
