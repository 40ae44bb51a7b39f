// Upload-Limit (-04/-05): the limits an upload resource, or the server, applies, as an sf-dictionary.
import type { UploadRecord } from '../../stores/types.js';
import { chunkLimits } from '../chunk-limits.js';
import type { ServerContext } from '../context.js';

/**
 * The most one upload resource may hold: the server's file size limit, and what its chunks can
 * hold (chunk size x the chunk count). It never changes over the upload's life, as the draft requires
 * (not the declared length: a deferred one becomes known later), so it is what `max-size` says.
 */
export function uploadMaxSize(ctx: ServerContext, upload: Pick<UploadRecord, 'chunkSize'>): number {
  return Math.min(ctx.config.maxFileSize, upload.chunkSize * chunkLimits(ctx.config, ctx.blobs).maxChunks);
}

/**
 * Upload-Limit of an upload resource: min-size=0, its max-size, and while it still takes bytes,
 * expires (the seconds it has left; the expiry slides with every append, so it grows, never shrinks).
 */
export function uploadLimit(ctx: ServerContext, upload: Pick<UploadRecord, 'chunkSize' | 'expiresAt' | 'state'>): string {
  const limit = `min-size=0, max-size=${uploadMaxSize(ctx, upload)}`;
  if (upload.state !== 'uploading') return limit;
  return `${limit}, expires=${Math.max(0, Math.floor((upload.expiresAt - ctx.now()) / 1000))}`;
}

/** Upload-Limit of the creation endpoint (OPTIONS): the largest upload the server can take. */
export function serverLimit(ctx: ServerContext): string {
  const chunks = chunkLimits(ctx.config, ctx.blobs);
  return `min-size=0, max-size=${Math.min(ctx.config.maxFileSize, chunks.maxChunkSize * chunks.maxChunks)}`;
}
