// Creating a stream upload (tus / IETF): an ordinary upload whose bytes will arrive in order at an offset.
import type { IncomingMessage } from 'node:http';
import { checkFileName, FerryError, metadataProblem, type Metadata } from '../../protocol/index.js';
import type { UploadRecord } from '../../stores/types.js';
import type { Principal } from '../auth/principal.js';
import { chunkLimits } from '../chunk-limits.js';
import type { ServerContext } from '../context.js';
import { openUpload } from '../open-upload.js';
import { pickChunkSize } from '../routes/create-upload.js';
import { appendToStream } from './append.js';

export interface StreamCreate {
  protocol: 'tus' | 'ietf';
  role: 'file' | 'part';
  /** null: deferred (tus Upload-Defer-Length: 1, or an IETF upload whose length is not said yet). */
  size: number | null;
  /** The file's name (from the client's metadata), or 'upload'. */
  name: string;
  /** Ferry metadata (a small flat map of strings). */
  metadata: Metadata;
  /** tus concatenation: the partial uploads this final upload is made of. */
  concatOf?: string[];
}

/**
 * The most a deferred-length upload may become: as many default-size chunks as an upload may have, within
 * the server's largest file. It is what the upload reserves until its length is known.
 */
export function deferredCapacity(ctx: ServerContext): { size: number; chunkSize: number } {
  const limits = chunkLimits(ctx.config, ctx.blobs);
  return { size: Math.min(ctx.config.maxFileSize, limits.maxChunks * limits.defaultChunkSize), chunkSize: limits.defaultChunkSize };
}

/** Creates the upload as POST /uploads would (policy, reservations, grant, hook, event); returns it. */
export async function createStreamUpload(ctx: ServerContext, req: IncomingMessage, who: Principal, c: StreamCreate): Promise<UploadRecord> {
  checkFileName(c.name);
  const metadataIssue = metadataProblem(c.metadata);
  if (metadataIssue) throw new FerryError('invalid-metadata', metadataIssue);
  if (c.size !== null && c.size > ctx.config.maxFileSize) {
    throw new FerryError('file-too-large', `This server accepts files up to ${ctx.config.maxFileSize} bytes.`, { maxFileSize: ctx.config.maxFileSize });
  }
  const deferred = c.size === null ? deferredCapacity(ctx) : null;
  const size = deferred?.size ?? c.size!;
  const chunkSize = deferred?.chunkSize ?? pickChunkSize(ctx, size, undefined, false);
  const upload = await openUpload(ctx, req, who, {
    name: c.name,
    size,
    metadata: c.metadata,
    algorithm: 'sha-256',
    fileDigest: null,
    chunkSize,
    protocol: c.protocol,
    role: c.role,
    lengthDeferred: c.size === null,
    ...(c.concatOf && { concatOf: c.concatOf }),
  });
  // Nothing to send (tus clients send no PATCH for it): its one empty chunk is stored at once, so an
  // empty file is complete as it is created and an empty partial upload is finished.
  if (c.size === 0) return (await appendToStream(ctx, upload, { offset: 0, body: noBytes(), ...(c.concatOf && { concatenation: true as const }) })).upload;
  return upload;
}

async function* noBytes(): AsyncGenerator<Uint8Array> {}
