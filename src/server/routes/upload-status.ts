// GET/HEAD /uploads/{id}: what a client needs to resume (state, missing chunks, expiry).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FerryError, Headers } from '../../protocol/index.js';
import { completeUpload } from '../completion.js';
import type { Principal } from '../auth/principal.js';
import type { ServerContext } from '../context.js';
import { baseUrl, sendJson } from '../http.js';
import { missingChunks } from '../missing-chunks.js';
import { uploadStatus } from '../representation.js';
import { awaitsCompletion, loadUpload } from '../upload-lifecycle.js';

/** The longest a status waits for writes whose client has gone (a stuck store must not hold it up). */
const goneWriteWaitMs = 2_000;

/** Most chunks part-way in listed (a client has at most its requests in flight cut at once). */
const maxStagedListed = 1000;

/** Longest missing-ranges list sent as a header; longer lists are only in the JSON body. */
export const maxMissingHeaderLength = 4096;

export async function getUploadStatus(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  params: { uploadId: string },
  who: Principal,
): Promise<void> {
  let upload = await loadUpload(ctx, params.uploadId, who);
  // A client whose chunk request just broke asks here first: let this node's writes of that request
  // stage what arrived (and give up their leases) so the answer lists it.
  if (await ctx.goneWrites.settle(upload.id, goneWriteWaitMs)) upload = await loadUpload(ctx, params.uploadId, who);
  if (awaitsCompletion(upload) || upload.state === 'completing') {
    // All chunks are in: finish the completion (or take over one whose node died; one under way in
    // this process is shared) so the answer carries the file; 'completing' while another node runs it.
    await completeUpload(ctx, upload, { wait: false }).catch((error: unknown) => {
      if (!(error instanceof FerryError)) throw error;
    });
    upload = await loadUpload(ctx, params.uploadId, who);
  }
  // From the store's gap ranges: a fragmented 10,000-chunk upload costs its gaps, not 10,000 rows.
  const staged = upload.state === 'uploading' && upload.protocol === 'ferry' ? await ctx.meta.listStaged(upload.id, maxStagedListed) : [];
  const status = uploadStatus(upload, await missingChunks(ctx, upload), baseUrl(req, ctx), staged);
  const headers: Record<string, string> = {
    [Headers.uploadState]: status.state,
    [Headers.chunksReceived]: String(status.chunksReceived),
    [Headers.uploadExpires]: new Date(upload.expiresAt).toUTCString(),
  };
  // HTTP clients cap header sizes (Node: 16 KiB in all); a badly fragmented upload's list stays in the body.
  if (status.missing.length <= maxMissingHeaderLength) headers[Headers.chunksMissing] = status.missing;
  if (req.method === 'HEAD') {
    res.writeHead(200, { ...headers, 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end();
    return;
  }
  sendJson(res, 200, status, headers);
}
