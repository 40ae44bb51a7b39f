// GET /capabilities: the server's limits, so a client can plan chunk sizes and checksums.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DefaultDigestAlgorithm, DigestAlgorithms, PROTOCOL_VERSION, type Capabilities } from '../../protocol/index.js';
import { chunkLimits } from '../chunk-limits.js';
import type { ServerContext } from '../context.js';
import { sendJson } from '../http.js';
import { rateBurst } from '../limits/rate-limiter.js';

export function capabilities(ctx: ServerContext): Capabilities {
  const c = ctx.config;
  // What create-upload accepts: the configuration within the blob store's limits.
  const chunks = chunkLimits(c, ctx.blobs);
  return {
    protocol: 'ferry',
    version: PROTOCOL_VERSION,
    minChunkSize: chunks.minChunkSize,
    defaultChunkSize: chunks.defaultChunkSize,
    maxChunkSize: chunks.maxChunkSize,
    maxChunks: chunks.maxChunks,
    maxFileSize: c.maxFileSize,
    checksums: [...DigestAlgorithms],
    defaultChecksum: DefaultDigestAlgorithm,
    uploadTtlSeconds: c.uploadTtlSeconds,
    creationWithFirstChunk: true,
    fsync: c.fsync,
    auth: c.auth,
    maxConcurrentDownloads: c.maxDownloadsPerIdentity,
    minBodyRate: c.minBodyRate,
    minBodyRateWindowSeconds: c.minBodyRateWindowSeconds,
    maxOpenUploads: c.maxOpenUploads,
    maxReservedBytes: c.maxReservedBytes,
    ...(c.rateLimit > 0 && { rateLimit: c.rateLimit, rateBurst: rateBurst(c) }),
  };
}

export async function getCapabilities(ctx: ServerContext, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  sendJson(res, 200, capabilities(ctx), { 'cache-control': 'max-age=60' });
}
