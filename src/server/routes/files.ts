// GET /files (recent files) and GET/HEAD /files/{id} (the assembled bytes).
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FerryError, MediaTypes } from '../../protocol/index.js';
import { contentDisposition } from '../content-disposition.js';
import type { ServerContext } from '../context.js';
import { baseUrl, sendJson } from '../http.js';
import { fileInfo } from '../representation.js';

export async function listFiles(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const base = baseUrl(req, ctx.config.publicUrl);
  const files = await ctx.meta.listFiles(100);
  sendJson(res, 200, { files: files.map((f) => fileInfo(f, base)) });
}

export async function getFile(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  params: { fileId: string },
): Promise<void> {
  const file = await ctx.meta.getFile(params.fileId);
  if (!file) throw new FerryError('file-not-found', `No file ${params.fileId}.`);
  res.writeHead(200, {
    'content-type': MediaTypes.octets,
    'content-length': String(file.size),
    'content-disposition': contentDisposition(file.name),
    'last-modified': new Date(file.createdAt).toUTCString(),
    'x-content-type-options': 'nosniff',
  });
  if (req.method === 'HEAD' || file.size === 0) {
    res.end();
    return;
  }
  const abort = new AbortController();
  res.once('close', () => abort.abort());
  let sent = 0;
  const counted = async function* () {
    for await (const part of ctx.blobs.read(file.blobRef, 0, file.size, { signal: abort.signal })) {
      sent += part.length;
      yield part;
    }
  };
  try {
    await pipeline(Readable.from(counted()), res);
  } finally {
    ctx.metrics.inc('ferry_file_bytes_served_total', sent);
  }
}
