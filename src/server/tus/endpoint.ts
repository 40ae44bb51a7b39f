// The tus 1.0.0 endpoint: POST /tus/ creates, /tus/{id} answers HEAD, PATCH, DELETE; OPTIONS describes.
// Requests of the IETF resumable-upload draft on the same URLs go to src/server/ietf/.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FerryError } from '../../protocol/index.js';
import type { UploadRecord } from '../../stores/types.js';
import type { Principal } from '../auth/principal.js';
import { bodyPieces } from '../chunk-body.js';
import type { ServerContext } from '../context.js';
import { baseUrl } from '../http.js';
import { ietfCreate, ietfOptions, ietfResource, isIetfRequest } from '../ietf/handler.js';
import { deleteUpload } from '../routes/abort-upload.js';
import { appendToStream, type AppendResult } from '../streams/append.js';
import { concatenate } from '../streams/concat.js';
import { createStreamUpload } from '../streams/create.js';
import { streamOffset } from '../streams/offset.js';
import { abortUpload, loadUpload } from '../upload-lifecycle.js';
import {
  formatUploadMetadata,
  integerHeader,
  nameFromMetadata,
  OffsetOctetStream,
  parseUploadChecksum,
  parseUploadConcat,
  parseUploadMetadata,
  TusChecksumAlgorithms,
  TusExtensions,
  TusVersion,
} from './headers.js';

/** The URL of a stream upload (tus or IETF). */
export function streamUploadUrl(req: IncomingMessage, ctx: ServerContext, uploadId: string): string {
  return `${baseUrl(req, ctx)}/tus/${encodeURIComponent(uploadId)}`;
}

/** OPTIONS /tus/ and /tus/{id}: the versions, extensions and limits of this server (no credential needed). */
export async function tusOptions(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (isIetfRequest(req)) return ietfOptions(ctx, req, res);
  res.writeHead(204, {
    'tus-resumable': TusVersion,
    'tus-version': TusVersion,
    'tus-extension': TusExtensions.join(','),
    'tus-max-size': String(ctx.config.maxFileSize),
    'tus-checksum-algorithm': TusChecksumAlgorithms.join(','),
    'cache-control': 'no-store',
  });
  res.end();
}

/** POST /tus/: creation (with an upload, a deferred length, or a concatenation). */
export async function tusCreate(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, _params: unknown, who: Principal): Promise<void> {
  if (isIetfRequest(req)) return ietfCreate(ctx, req, res, who);
  checkTusResumable(req, res);
  const metadata = parseUploadMetadata(req.headers['upload-metadata']);
  const name = nameFromMetadata(metadata);
  const concat = parseUploadConcat(req.headers['upload-concat']);
  const length = integerHeader(req.headers['upload-length'], 'Upload-Length');
  const deferred = req.headers['upload-defer-length'];
  if (deferred !== undefined && deferred !== '1') throw new FerryError('malformed-request', 'Upload-Defer-Length, when given, is 1.');

  let upload: UploadRecord;
  if (concat?.kind === 'final') {
    if (length !== undefined || deferred !== undefined) {
      throw new FerryError('malformed-request', 'A final upload has no Upload-Length of its own: it is the sum of its partial uploads.');
    }
    upload = await concatenate(ctx, req, who, concat.ids, { name, metadata });
    answerCreated(ctx, req, res, upload, streamOffset(upload));
    return;
  }
  if ((length === undefined) === (deferred === undefined)) {
    throw new FerryError('invalid-upload-length', 'Creating an upload needs either Upload-Length or Upload-Defer-Length: 1.');
  }
  // creation-with-upload: the body, if any, is the first bytes (an empty body is no body). What it
  // says of itself is checked before anything is created.
  const declared = integerHeader(req.headers['content-length'], 'Content-Length');
  const hasBody = declared !== undefined ? declared > 0 : req.headers['transfer-encoding'] !== undefined;
  if (hasBody) {
    checkContentType(req);
    parseUploadChecksum(req.headers['upload-checksum']);
    if (length !== undefined && declared !== undefined && declared > length) {
      throw new FerryError('file-too-large', `The upload is ${length} bytes long; this body is ${declared}.`, { length });
    }
  }
  upload = await createStreamUpload(ctx, req, who, { protocol: 'tus', role: concat ? 'part' : 'file', size: length ?? null, name, metadata });
  let offset = streamOffset(upload);
  if (hasBody) {
    const created = upload;
    const result = await append(ctx, req, upload, 0).catch(async (error: unknown) => {
      // The client learns no Location from a failed creation: nothing it could resume is left behind.
      await abortUpload(ctx, created).catch(() => false);
      throw error;
    });
    upload = result.upload;
    offset = result.offset;
  }
  answerCreated(ctx, req, res, upload, offset);
}

/** HEAD, PATCH, DELETE on /tus/{id} (and POST with X-HTTP-Method-Override for clients that cannot send them). */
export async function tusResource(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, params: { uploadId: string }, who: Principal): Promise<void> {
  if (isIetfRequest(req)) return ietfResource(ctx, req, res, params.uploadId, who);
  checkTusResumable(req, res);
  let method = req.method ?? 'GET';
  if (method === 'POST') {
    const override = req.headers['x-http-method-override'];
    if (typeof override !== 'string' || !['PATCH', 'DELETE', 'HEAD'].includes(override.toUpperCase())) {
      throw new FerryError('method-not-allowed', 'POST on an upload needs X-HTTP-Method-Override: PATCH, DELETE or HEAD.', { allow: 'HEAD, PATCH, DELETE, OPTIONS' });
    }
    method = override.toUpperCase();
  }
  const upload = await tusUpload(ctx, params.uploadId, who);
  switch (method) {
    case 'HEAD':
      return describe(res, upload);
    case 'PATCH':
      return patch(ctx, req, res, upload);
    case 'DELETE':
      return deleteUpload(ctx, req, res, params, who);
    default:
      throw new FerryError('method-not-allowed', `${method} is not allowed on a tus upload.`, { allow: 'HEAD, PATCH, DELETE, OPTIONS' });
  }
}

/** A stream upload `who` may use; Ferry-protocol uploads are not tus resources. */
async function tusUpload(ctx: ServerContext, uploadId: string, who: Principal): Promise<UploadRecord> {
  const upload = await loadUpload(ctx, uploadId, who);
  if (upload.protocol === 'ferry') throw new FerryError('upload-not-found', `No tus upload ${uploadId}.`);
  return upload;
}

/** HEAD: where the upload stands. A terminated or expired upload is gone (404/410). */
function describe(res: ServerResponse, upload: UploadRecord): void {
  if (upload.state === 'aborted' || upload.state === 'expired' || upload.state === 'failed') {
    res.writeHead(upload.state === 'failed' ? 410 : 404, { 'cache-control': 'no-store' });
    res.end();
    return;
  }
  const headers: Record<string, string> = {
    'cache-control': 'no-store',
    'upload-offset': String(streamOffset(upload)),
    ...lengthHeaders(upload),
    ...expiryHeader(upload),
  };
  const metadata = formatUploadMetadata(upload.metadata);
  if (metadata !== '') headers['upload-metadata'] = metadata;
  if (upload.role === 'part') headers['upload-concat'] = 'partial';
  if (upload.concatOf) headers['upload-concat'] = `final;${upload.concatOf.map((id) => `/tus/${encodeURIComponent(id)}`).join(' ')}`;
  res.writeHead(200, headers);
  res.end();
}

/** PATCH: bytes at Upload-Offset (a deferred length may come with them). */
async function patch(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, upload: UploadRecord): Promise<void> {
  if (upload.concatOf) throw new FerryError('forbidden', `Upload ${upload.id} is a final upload: its bytes are its partial uploads'.`);
  checkContentType(req);
  const offset = integerHeader(req.headers['upload-offset'], 'Upload-Offset');
  if (offset === undefined) throw new FerryError('malformed-request', 'A PATCH needs Upload-Offset.');
  const result = await append(ctx, req, upload, offset);
  res.writeHead(204, { 'cache-control': 'no-store', 'upload-offset': String(result.offset), ...expiryHeader(result.upload) });
  res.end();
}

/** Appends the request's body at `offset` with what tus headers say of it (checksum, a deferred length). */
function append(ctx: ServerContext, req: IncomingMessage, upload: UploadRecord, offset: number): Promise<AppendResult> {
  const checksum = parseUploadChecksum(req.headers['upload-checksum']);
  const length = integerHeader(req.headers['upload-length'], 'Upload-Length');
  const contentLength = integerHeader(req.headers['content-length'], 'Content-Length');
  return appendToStream(ctx, upload, {
    offset,
    body: bodyPieces(req),
    ...(contentLength !== undefined && { contentLength }),
    ...(checksum && { checksum }),
    ...(length !== undefined && { length }),
  });
}

function answerCreated(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, upload: UploadRecord, offset: number): void {
  res.writeHead(201, {
    location: streamUploadUrl(req, ctx, upload.id),
    'upload-offset': String(offset),
    'cache-control': 'no-store',
    ...expiryHeader(upload),
  });
  res.end();
}

function lengthHeaders(upload: UploadRecord): Record<string, string> {
  return upload.lengthDeferred ? { 'upload-defer-length': '1' } : { 'upload-length': String(upload.size) };
}

/** expiration extension: when an unfinished upload will be forgotten. */
function expiryHeader(upload: UploadRecord): Record<string, string> {
  return upload.state === 'uploading' ? { 'upload-expires': new Date(upload.expiresAt).toUTCString() } : {};
}

/** Every tus request but OPTIONS says which version it speaks: 412 (with Tus-Version) when not ours. */
function checkTusResumable(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('tus-resumable', TusVersion);
  const version = req.headers['tus-resumable'];
  if (version !== TusVersion) {
    res.setHeader('tus-version', TusVersion);
    throw new FerryError('unsupported-tus-version', version === undefined ? 'tus requests need Tus-Resumable: 1.0.0.' : `Tus-Resumable ${String(version).slice(0, 40)} is not supported; this server speaks ${TusVersion}.`, {
      supported: [TusVersion],
    });
  }
}

function checkContentType(req: IncomingMessage): void {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== OffsetOctetStream) {
    throw new FerryError('unsupported-media-type', `tus bodies are ${OffsetOctetStream}${type ? `, not ${type}` : ''}.`);
  }
}
