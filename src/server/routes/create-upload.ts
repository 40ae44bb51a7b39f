// POST /uploads: create an upload from JSON, or from parameters in a header with chunk 0 as the body.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import {
  chooseChunkSize,
  chunkCount,
  CreateUploadRequest,
  DefaultLimits,
  FerryError,
  formatDigest,
  Headers,
  isDigestAlgorithm,
  MediaTypes,
  parseDigest,
  checkFileName,
  metadataProblem,
  type DigestAlgorithm,
  type Metadata,
} from '../../protocol/index.js';
import type { Principal } from '../auth/principal.js';
import { receiveChunk } from '../chunk-receiver.js';
import type { ServerContext } from '../context.js';
import { abortUpload } from '../upload-lifecycle.js';
import { baseUrl, readJsonBody, sendJson } from '../http.js';
import { chunkLimits } from '../chunk-limits.js';
import { missingChunks } from '../missing-chunks.js';
import { openUpload } from '../open-upload.js';
import { uploadStatus } from '../representation.js';

export async function createUpload(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, _params: unknown, who: Principal): Promise<void> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const withChunk = type === MediaTypes.octets;
  const raw = withChunk ? decodeParams(req.headers[Headers.uploadParams]) : await readJsonBody(req, DefaultLimits.maxCreateBodyBytes);
  const params = validateParams(ctx, raw);
  const upload = await openUpload(ctx, req, who, {
    name: params.name,
    size: params.size,
    metadata: params.metadata,
    algorithm: params.checksum,
    fileDigest: params.fileDigest === undefined ? null : formatDigest(parseDigest(params.fileDigest, params.checksum)),
    chunkSize: pickChunkSize(ctx, params.size, params.chunkSize, withChunk),
    protocol: 'ferry',
    role: 'file',
    lengthDeferred: false,
  });
  const base = baseUrl(req, ctx);

  let firstChunk = null;
  if (withChunk) {
    try {
      firstChunk = (await receiveChunk(ctx, req, upload, 0, base)).ack;
    } catch (error) {
      // Creation with a first chunk is all or nothing: a failed chunk leaves no upload behind. Aborted
      // as any upload is (its event, its grant's bytes back, bytes after rows), then its row dropped.
      await abortUpload(ctx, upload);
      await ctx.meta.deleteUpload(upload.id);
      throw error;
    }
  }

  const current = (await ctx.meta.getUpload(upload.id)) ?? upload;
  const body = { ...uploadStatus(current, await missingChunks(ctx, current), base), firstChunk };
  sendJson(res, 201, body, { location: body.uploadUrl });
}

function decodeParams(header: string | string[] | undefined): unknown {
  if (typeof header !== 'string' || header === '') {
    throw new FerryError('malformed-request', `A chunk body on create needs the ${Headers.uploadParams} header (base64url JSON).`);
  }
  try {
    return JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
  } catch {
    throw new FerryError('malformed-request', `${Headers.uploadParams} is not base64url-encoded JSON.`);
  }
}

type CreateParams = z.output<typeof CreateUploadRequest> & { checksum: DigestAlgorithm; metadata: Metadata };

/** Validates creation parameters against the server's limits (all but the chunk size). */
function validateParams(ctx: ServerContext, raw: unknown): CreateParams {
  // Before the schema, so that metadata gets its own problem type (and nesting is never walked).
  const givenMetadata = (raw as { metadata?: unknown } | null)?.metadata;
  const metadataIssue = givenMetadata === undefined ? null : metadataProblem(givenMetadata);
  if (metadataIssue) throw new FerryError('invalid-metadata', metadataIssue);
  const parsed = CreateUploadRequest.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
    throw new FerryError('malformed-request', `Invalid create request: ${issues.map((i) => `${i.path || 'body'}: ${i.message}`).join('; ')}`, { issues });
  }
  const p = parsed.data;
  const c = ctx.config;
  checkFileName(p.name);
  if (!isDigestAlgorithm(p.checksum)) {
    throw new FerryError('unsupported-algorithm', `Checksum "${p.checksum}" is not supported; use sha-256.`);
  }
  if (p.size > c.maxFileSize) {
    throw new FerryError('file-too-large', `This server accepts files up to ${c.maxFileSize} bytes.`, { maxFileSize: c.maxFileSize });
  }
  if (p.fileDigest !== undefined) parseDigest(p.fileDigest, p.checksum);
  const metadata = p.metadata ?? {};
  return { ...p, checksum: p.checksum, metadata };
}

export function pickChunkSize(ctx: ServerContext, size: number, requested: number | undefined, withChunk: boolean): number {
  // The configured limits narrowed to the blob store's (S3: 5 MiB parts at least, 10,000 at most).
  const c = chunkLimits(ctx.config, ctx.blobs);
  if (requested !== undefined && (requested < c.minChunkSize || requested > c.maxChunkSize)) {
    throw new FerryError('invalid-chunk-size', `Chunk size must be between ${c.minChunkSize} and ${c.maxChunkSize} bytes.`, {
      minChunkSize: c.minChunkSize,
      maxChunkSize: c.maxChunkSize,
    });
  }
  const chosen = chooseChunkSize(size, requested, c);
  if (chunkCount(size, chosen) > c.maxChunks) {
    throw new FerryError('file-too-large', `The file does not fit in ${c.maxChunks} chunks of at most ${c.maxChunkSize} bytes.`);
  }
  if (withChunk && requested !== undefined && chosen !== requested) {
    throw new FerryError('invalid-chunk-size', `With ${requested}-byte chunks this file needs more than ${c.maxChunks} chunks; use at least ${chosen}.`, {
      minChunkSize: chosen,
    });
  }
  return chosen;
}
