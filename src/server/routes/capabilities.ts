// GET /capabilities: the server's limits, so a client can plan chunk sizes and checksums.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DefaultDigestAlgorithm, DigestAlgorithms, PROTOCOL_VERSION, type Capabilities } from '../../protocol/index.js';
import type { ServerContext } from '../context.js';
import { sendJson } from '../http.js';
import { rateBurst } from '../limits/rate-limiter.js';

export function capabilities(ctx: ServerContext): Capabilities {
  const c = ctx.config;
  return {
    protocol: 'ferry',
    version: PROTOCOL_VERSION,
    minChunkSize: c.minChunkSize,
    defaultChunkSize: c.defaultChunkSize,
    maxChunkSize: c.maxChunkSize,
    maxChunks: c.maxChunks,
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
