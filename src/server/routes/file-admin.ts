// DELETE /files/{id} (remove a file: its record first, so no new download starts, then its bytes) and
// POST /files/{id}/share (a signed, expiring download link for people without an account).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { DefaultLimits, FerryError } from '../../protocol/index.js';
import type { FileRecord } from '../../stores/types.js';
import { mayChangeFile, requireFileWrite } from '../auth/policy.js';
import type { Principal } from '../auth/principal.js';
import { makeShareLink } from '../auth/share-links.js';
import type { ServerContext } from '../context.js';
import { announceEvent, eventData, prepareEvent } from '../events.js';
import { baseUrl, readJsonBody, sendJson } from '../http.js';
import { loadFile } from './files.js';

export async function deleteFile(ctx: ServerContext, _req: IncomingMessage, res: ServerResponse, params: { fileId: string }, who: Principal): Promise<void> {
  const file = await loadFile(ctx, params.fileId, who);
  requireFileWrite(who, file);
  await removeFile(ctx, file, 'deleted');
  res.writeHead(204, { 'cache-control': 'no-store' });
  res.end();
}

/**
 * Removes a file. The record goes first (with its event, atomically): a download that has not started
 * gets 404 from then on. A download already streaming keeps reading the bytes it opened (a file system
 * keeps an unlinked file readable while open), or is cut short: never served other bytes, as the
 * client verifies each piece against the manifest and the ETag.
 */
export async function removeFile(ctx: ServerContext, file: FileRecord, why: 'deleted' | 'retention'): Promise<boolean> {
  const deleted = prepareEvent(ctx, 'file.deleted', eventData(ctx, null, file));
  const removed = await ctx.meta.deleteFile(file.id, deleted.deliveries);
  if (!removed) return false;
  await ctx.blobs.deleteFile(removed.blobRef);
  ctx.metrics.inc('ferry_files_deleted_total', 1, { why });
  ctx.log.info({ event: 'file-deleted', fileId: file.id, uploadId: file.uploadId, owner: file.owner, why }, 'file deleted');
  await announceEvent(ctx, deleted);
  return true;
}

const ShareRequest = z.object({ expiresInSeconds: z.number().positive().optional() }).strict();

/**
 * The longest link a caller who may only read a file can make: enough for a browser to start a download
 * (a page's Download button cannot send a header), too short to be worth passing on.
 */
export const DownloadLinkSeconds = 300;

/**
 * Whoever may change the file makes share links of up to --max-share (7 days by default); whoever may
 * only read it, download links of up to DownloadLinkSeconds (so a page never puts its own credential in a URL).
 */
export async function shareFile(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, params: { fileId: string }, who: Principal): Promise<void> {
  const file = await loadFile(ctx, params.fileId, who);
  const hasBody = req.headers['content-length'] !== '0' && (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined);
  const parsed = ShareRequest.safeParse(hasBody ? await readJsonBody(req, DefaultLimits.maxCreateBodyBytes) : {});
  if (!parsed.success) throw new FerryError('malformed-request', 'The body is {"expiresInSeconds": <seconds>} (optional).');
  const max = ctx.config.maxShareSeconds;
  const writer = mayChangeFile(who, file);
  const seconds = Math.floor(parsed.data.expiresInSeconds ?? (writer ? Math.min(7 * 24 * 3600, max) : Math.min(DownloadLinkSeconds, max)));
  if (seconds > max) throw new FerryError('malformed-request', `Share links last at most ${max} seconds on this server.`, { maxShareSeconds: max });
  if (!writer && seconds > DownloadLinkSeconds) {
    throw new FerryError('forbidden', `This credential may read file ${file.id} but not share it: it may make download links of up to ${DownloadLinkSeconds} seconds.`, {
      maxSeconds: DownloadLinkSeconds,
    });
  }
  // A link made with a grant never outlives that grant (or a short link could renew itself for ever).
  const remaining = who.grant ? Math.floor((who.grant.expiresAt - ctx.now()) / 1000) : seconds;
  if (remaining < 1) throw new FerryError('credential-expired', 'The grant or link has expired; ask for a new one.');
  const link = await makeShareLink(ctx.shareKey!, file, Math.min(seconds, remaining), baseUrl(req, ctx), ctx.now());
  ctx.log.info({ event: 'share-link', fileId: file.id, by: who.identity, expiresAt: link.expiresAt }, 'share link made');
  sendJson(res, 201, { fileId: file.id, ...link });
}
