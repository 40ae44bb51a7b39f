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
import type { UploadRecord } from '../../stores/types.js';
import type { Principal } from '../auth/principal.js';
import { requireCreate } from '../auth/policy.js';
import { receiveChunk } from '../chunk-receiver.js';
import type { ServerContext } from '../context.js';
import { announceEvent, eventData, prepareEvent } from '../events.js';
import { runPreCreate } from '../hooks.js';
import { abortUpload } from '../upload-lifecycle.js';
import { baseUrl, readJsonBody, sendJson } from '../http.js';
import { newId } from '../ids.js';
import { checkReservations, createWithinReservations } from '../limits/quota.js';
import { chunkLimits } from '../chunk-limits.js';
import { missingChunks } from '../missing-chunks.js';
import { uploadStatus } from '../representation.js';

export async function createUpload(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, _params: unknown, who: Principal): Promise<void> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const withChunk = type === MediaTypes.octets;
  const raw = withChunk ? decodeParams(req.headers[Headers.uploadParams]) : await readJsonBody(req, DefaultLimits.maxCreateBodyBytes);
  const params = validateParams(ctx, raw);
  const allowance = requireCreate(who, params.name, params.metadata);
  // Past a reservation limit: refused before the hook is asked or anything is stored.
  const limits = await checkReservations(ctx, who, req, params.size);
  params.metadata = await runPreCreate(ctx, { owner: who.identity, role: who.role, name: params.name, size: params.size, metadata: params.metadata });
  // The grant's budget is taken before anything is stored, and given back if the create fails.
  const grantId = allowance ? who.grant!.id : null;
  if (allowance) {
    const taken = await ctx.meta.reserveGrant(grantId!, params.size, { maxBytes: allowance.maxBytes, maxFiles: allowance.maxFiles ?? null }, who.grant!.expiresAt);
    if (!taken.ok) {
      throw new FerryError('grant-budget-exceeded', `This grant allows ${allowance.maxBytes} bytes${allowance.maxFiles ? ` in ${allowance.maxFiles} files` : ''}; ${taken.used.bytes} bytes in ${taken.used.files} files are taken.`, {
        maxBytes: allowance.maxBytes,
        maxFiles: allowance.maxFiles ?? null,
        usedBytes: taken.used.bytes,
        usedFiles: taken.used.files,
      });
    }
  }
  const refund = () => (grantId ? ctx.meta.releaseGrant(grantId, params.size) : Promise.resolve());
  let upload: UploadRecord;
  try {
    upload = await newUpload(ctx, params, withChunk, who.identity, grantId);
  } catch (error) {
    await refund();
    throw error;
  }
  const base = baseUrl(req, ctx);
  const created = prepareEvent(ctx, 'upload.created', eventData(ctx, upload, null));
  await createWithinReservations(ctx, who, limits, upload, created.deliveries).catch(async (error: unknown) => {
    await ctx.blobs.abort(upload.blobHandle); // begun by newUpload(), and no row will ever name it
    await refund();
    throw error;
  });
  ctx.metrics.inc('ferry_uploads_created_total');
  ctx.log.info(
    { uploadId: upload.id, event: 'upload-created', owner: upload.owner, size: upload.size, chunkSize: upload.chunkSize, totalChunks: upload.totalChunks },
    'upload created',
  );
  await announceEvent(ctx, created);

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

/** Builds the upload record (and begins its storage) for validated parameters. */
async function newUpload(ctx: ServerContext, p: CreateParams, withChunk: boolean, owner: string, grantId: string | null): Promise<UploadRecord> {
  const c = ctx.config;
  const fileDigest = p.fileDigest === undefined ? null : formatDigest(parseDigest(p.fileDigest, p.checksum));
  const metadata = p.metadata;
  const chunkSize = pickChunkSize(ctx, p.size, p.chunkSize, withChunk);
  const id = newId();
  const now = ctx.now();
  const totalChunks = chunkCount(p.size, chunkSize);
  return {
    id,
    state: 'uploading',
    name: p.name,
    size: p.size,
    chunkSize,
    totalChunks,
    algorithm: p.checksum,
    fileDigest,
    metadata,
    blobHandle: await ctx.blobs.begin(id, p.size, totalChunks),
    chunksReceived: 0,
    bytesReceived: 0,
    createdAt: now,
    updatedAt: now,
    expiresAt: now + c.uploadTtlSeconds * 1000,
    fileId: newId(),
    owner,
    grantId,
    protocol: 'ferry',
    role: 'file',
    lengthDeferred: false,
    stagedBytes: 0,
  };
}

function pickChunkSize(ctx: ServerContext, size: number, requested: number | undefined, withChunk: boolean): number {
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
