// Opening an upload, whichever protocol asks: the caller's allowance, reservations, the pre-create
// hook, the grant's budget, storage begun, the row stored with its upload.created event.
import type { IncomingMessage } from 'node:http';
import { chunkCount, FerryError, type DigestAlgorithm, type Metadata } from '../protocol/index.js';
import type { UploadProtocol, UploadRecord, UploadRole } from '../stores/types.js';
import { requireCreate } from './auth/policy.js';
import type { Principal } from './auth/principal.js';
import type { ServerContext } from './context.js';
import { announceEvent, uploadEvent } from './events.js';
import { runPreCreate } from './hooks.js';
import { newId } from './ids.js';
import { checkReservations, createWithinReservations } from './limits/quota.js';
import { reservedBytes } from '../stores/reservations.js';

/** A validated request for a new upload (size and chunk size already checked against the limits). */
export interface NewUpload {
  name: string;
  /** Bytes it reserves: its size, or for a deferred length the most it may become. */
  size: number;
  metadata: Metadata;
  algorithm: DigestAlgorithm;
  fileDigest: string | null;
  chunkSize: number;
  protocol: UploadProtocol;
  role: UploadRole;
  /** The length is not known yet: `size` is chunkSize x (the chunks it may have), and storage starts empty. */
  lengthDeferred: boolean;
  /** tus concatenation: the partial uploads a final upload is made of. */
  concatOf?: string[];
}

/** Creates the upload for `who`, as POST /uploads does; returns the stored record. */
export async function openUpload(ctx: ServerContext, req: IncomingMessage, who: Principal, given: NewUpload): Promise<UploadRecord> {
  const allowance = requireCreate(who, given.name, given.metadata);
  // A deferred length may become at most what its grant allows: that is what the grant's budget holds for it.
  const p = given.lengthDeferred && allowance ? { ...given, size: Math.min(given.size, allowance.maxBytes) } : given;
  // Past a reservation limit: refused before the hook is asked or anything is stored.
  const limits = await checkReservations(ctx, who, req, reservedBytes({ ...p, bytesReceived: 0 }));
  const metadata = await runPreCreate(ctx, { owner: who.identity, role: who.role, name: p.name, size: p.size, metadata: p.metadata });
  // The grant's budget is taken before anything is stored, and given back if the create fails.
  const grantId = allowance ? who.grant!.id : null;
  if (allowance) {
    const taken = await ctx.meta.reserveGrant(grantId!, p.size, { maxBytes: allowance.maxBytes, maxFiles: allowance.maxFiles ?? null }, who.grant!.expiresAt);
    if (!taken.ok) {
      throw new FerryError('grant-budget-exceeded', `This grant allows ${allowance.maxBytes} bytes${allowance.maxFiles ? ` in ${allowance.maxFiles} files` : ''}; ${taken.used.bytes} bytes in ${taken.used.files} files are taken.`, {
        maxBytes: allowance.maxBytes,
        maxFiles: allowance.maxFiles ?? null,
        usedBytes: taken.used.bytes,
        usedFiles: taken.used.files,
      });
    }
  }
  const refund = () => (grantId ? ctx.meta.releaseGrant(grantId, p.size) : Promise.resolve());
  let upload: UploadRecord;
  try {
    upload = await newUpload(ctx, { ...p, metadata }, who.identity, grantId);
  } catch (error) {
    await refund();
    throw error;
  }
  const created = uploadEvent(ctx, 'upload.created', upload);
  await createWithinReservations(ctx, who, limits, upload, created?.deliveries ?? []).catch(async (error: unknown) => {
    await ctx.blobs.abort(upload.blobHandle); // begun by newUpload(), and no row will ever name it
    await refund();
    throw error;
  });
  ctx.metrics.inc('ferry_uploads_created_total');
  ctx.log.info(
    { uploadId: upload.id, event: 'upload-created', owner: upload.owner, size: upload.size, chunkSize: upload.chunkSize, totalChunks: upload.totalChunks, protocol: upload.protocol, role: upload.role, lengthDeferred: upload.lengthDeferred },
    'upload created',
  );
  await announceEvent(ctx, created);
  return upload;
}

/** Builds the upload record (and begins its storage). */
async function newUpload(ctx: ServerContext, p: NewUpload, owner: string, grantId: string | null): Promise<UploadRecord> {
  const id = newId();
  const now = ctx.now();
  const totalChunks = chunkCount(p.size, p.chunkSize);
  return {
    id,
    state: 'uploading',
    name: p.name,
    size: p.size,
    chunkSize: p.chunkSize,
    totalChunks,
    algorithm: p.algorithm,
    fileDigest: p.fileDigest,
    metadata: p.metadata,
    // A deferred length starts with empty storage that grows as chunks arrive in order.
    blobHandle: await ctx.blobs.begin(id, p.lengthDeferred ? 0 : p.size, totalChunks),
    chunksReceived: 0,
    bytesReceived: 0,
    createdAt: now,
    updatedAt: now,
    expiresAt: now + ctx.config.uploadTtlSeconds * 1000,
    fileId: newId(),
    owner,
    grantId,
    protocol: p.protocol,
    role: p.role,
    lengthDeferred: p.lengthDeferred,
    stagedBytes: 0,
    concatOf: p.concatOf ?? null,
  };
}
