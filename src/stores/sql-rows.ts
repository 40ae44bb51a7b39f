// The row shapes both SQL metadata stores use (the same columns in SQLite and PostgreSQL) and their
// mapping to and from the store records.
import { chunkCount, chunkLength, type DigestAlgorithm, type UploadState } from '../protocol/index.js';
import type { ApiKeyRecord, ChunkRecord, FileQuery, FileRecord, Role, StreamStep, UploadProtocol, UploadRecord, UploadRole, WebhookDelivery } from './types.js';

export interface UploadRow {
  id: string;
  state: UploadState;
  name: string;
  size: number;
  chunk_size: number;
  total_chunks: number;
  algorithm: DigestAlgorithm;
  file_digest: string | null;
  metadata: string;
  blob_handle: string;
  chunks_received: number;
  bytes_received: number;
  created_at: number;
  updated_at: number;
  expires_at: number;
  file_id: string | null;
  owner: string;
  grant_id: string | null;
  /** Whom the upload counts against for the reservation limits (see ReservationLimits.key). */
  quota_key: string;
  protocol: UploadProtocol;
  role: UploadRole;
  /** 0/1 in SQLite (what fromUpload gives), boolean in PostgreSQL. */
  length_deferred: number | boolean;
  staged_bytes: number;
  /** JSON array of upload ids, or null. */
  concat_of: string | null;
}

export interface ChunkRow {
  idx: number;
  size: number;
  digest: string;
  receipt: string;
}

export interface FileRow {
  id: string;
  upload_id: string;
  name: string;
  size: number;
  chunk_size: number;
  total_chunks: number;
  algorithm: DigestAlgorithm;
  file_digest: string | null;
  etag: string;
  metadata: string;
  blob_ref: string;
  created_at: number;
  owner: string;
}

export interface ApiKeyRow {
  id: string;
  secret_hash: string;
  identity: string;
  role: Role;
  label: string;
  created_at: number;
  revoked_at: number | null;
}

export interface DeliveryRow {
  event_id: string;
  endpoint: string;
  type: string;
  payload: string;
  created_at: number;
  attempts: number;
  next_attempt_at: number;
}

/** States an upload never leaves: its chunk and completion claims are dropped on entering one. */
export const endedStates = new Set<UploadState>(['complete', 'aborted', 'expired', 'failed']);

export function fromUpload(u: UploadRecord): UploadRow {
  return {
    id: u.id,
    state: u.state,
    name: u.name,
    size: u.size,
    chunk_size: u.chunkSize,
    total_chunks: u.totalChunks,
    algorithm: u.algorithm,
    file_digest: u.fileDigest,
    metadata: JSON.stringify(u.metadata),
    blob_handle: u.blobHandle,
    chunks_received: u.chunksReceived,
    bytes_received: u.bytesReceived,
    created_at: u.createdAt,
    updated_at: u.updatedAt,
    expires_at: u.expiresAt,
    file_id: u.fileId,
    owner: u.owner,
    grant_id: u.grantId,
    quota_key: u.owner,
    protocol: u.protocol,
    role: u.role,
    length_deferred: u.lengthDeferred ? 1 : 0,
    staged_bytes: u.stagedBytes,
    concat_of: u.concatOf === null ? null : JSON.stringify(u.concatOf),
  };
}

export function toUpload(r: UploadRow): UploadRecord {
  return {
    id: r.id,
    state: r.state,
    name: r.name,
    size: r.size,
    chunkSize: r.chunk_size,
    totalChunks: r.total_chunks,
    algorithm: r.algorithm,
    fileDigest: r.file_digest,
    metadata: JSON.parse(r.metadata) as Record<string, unknown>,
    blobHandle: r.blob_handle,
    chunksReceived: r.chunks_received,
    bytesReceived: r.bytes_received,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    expiresAt: r.expires_at,
    fileId: r.file_id,
    owner: r.owner,
    grantId: r.grant_id,
    protocol: r.protocol,
    role: r.role,
    lengthDeferred: r.length_deferred === true || r.length_deferred === 1,
    stagedBytes: r.staged_bytes,
    concatOf: r.concat_of === null ? null : (JSON.parse(r.concat_of) as string[]),
  };
}

/**
 * What advanceStream() refuses whatever the upload (a caller's mistake, thrown as an Error): chunks
 * not in order from `step.from.chunksReceived`, negative counts, a length that says nothing.
 */
export function checkStreamStep(step: StreamStep): void {
  step.chunks.forEach((chunk, i) => {
    if (chunk.index !== step.from.chunksReceived + i) {
      throw new Error(`advanceStream: chunk ${chunk.index} out of order (expected ${step.from.chunksReceived + i}): stream chunks are recorded in order`);
    }
  });
  if (!Number.isSafeInteger(step.stagedBytes) || step.stagedBytes < 0) throw new Error(`advanceStream: invalid stagedBytes ${step.stagedBytes}`);
  if (step.length && (!Number.isSafeInteger(step.length.size) || step.length.size < 0 || !Number.isSafeInteger(step.length.totalChunks) || step.length.totalChunks < 1)) {
    throw new Error(`advanceStream: invalid length ${JSON.stringify(step.length)}`);
  }
}

/**
 * What advanceStream() refuses given the upload as it is (counters already found to be `step.from`):
 * a length for an upload whose length is not deferred, one larger than the most it may become, or
 * whose chunk count is not its size's; chunks or staged bytes past the upload's (new) last chunk;
 * a chunk whose size is not its place's in the (new) length; staged bytes that would make a whole chunk;
 * a length below the offset already recorded (the chunks and staged bytes it would disown); fewer
 * staged bytes than recorded with no chunk recorded (staged bytes never go backwards).
 */
export function checkStreamStepFits(upload: UploadRecord, step: StreamStep): void {
  if (step.length && !upload.lengthDeferred) throw new Error(`advanceStream: upload ${upload.id} has a known length; only a deferred one can be set`);
  if (step.length && (step.length.totalChunks > upload.totalChunks || step.length.size > upload.size)) {
    throw new Error(`advanceStream: length ${JSON.stringify(step.length)} is beyond upload ${upload.id}'s most (${upload.size} bytes, ${upload.totalChunks} chunks)`);
  }
  const size = step.length?.size ?? upload.size;
  const totalChunks = step.length?.totalChunks ?? upload.totalChunks;
  const recorded = step.from.chunksReceived * upload.chunkSize + step.from.stagedBytes;
  if (step.length && size < recorded) {
    throw new Error(`advanceStream: length ${size} is below the ${recorded} bytes upload ${upload.id} already has`);
  }
  if (step.chunks.length === 0 && step.stagedBytes < step.from.stagedBytes) {
    throw new Error(`advanceStream: ${step.stagedBytes} staged bytes of upload ${upload.id} with no chunk recorded would go back from ${step.from.stagedBytes}`);
  }
  if (step.length && totalChunks !== chunkCount(size, upload.chunkSize)) {
    throw new Error(`advanceStream: ${size} bytes are ${chunkCount(size, upload.chunkSize)} chunks of ${upload.chunkSize}, not ${totalChunks}`);
  }
  const received = step.from.chunksReceived + step.chunks.length;
  if (received > totalChunks || (step.stagedBytes > 0 && received >= totalChunks)) {
    throw new Error(`advanceStream: ${received} chunks${step.stagedBytes > 0 ? ' and staged bytes' : ''} do not fit upload ${upload.id}'s ${totalChunks}`);
  }
  for (const chunk of step.chunks) {
    const length = chunkLength(size, upload.chunkSize, chunk.index);
    if (chunk.size !== length) throw new Error(`advanceStream: chunk ${chunk.index} of upload ${upload.id} is ${length} bytes, not ${chunk.size}`);
  }
  if (step.stagedBytes > 0 && step.stagedBytes >= chunkLength(size, upload.chunkSize, received)) {
    throw new Error(`advanceStream: ${step.stagedBytes} staged bytes make chunk ${received} of upload ${upload.id} whole`);
  }
}

export function toChunk(r: ChunkRow): ChunkRecord {
  return { index: r.idx, size: r.size, digest: r.digest, receipt: r.receipt };
}

export function fromFile(f: FileRecord): FileRow {
  return {
    id: f.id,
    upload_id: f.uploadId,
    name: f.name,
    size: f.size,
    chunk_size: f.chunkSize,
    total_chunks: f.totalChunks,
    algorithm: f.algorithm,
    file_digest: f.fileDigest,
    etag: f.etag,
    metadata: JSON.stringify(f.metadata),
    blob_ref: f.blobRef,
    created_at: f.createdAt,
    owner: f.owner,
  };
}

export function toFile(r: FileRow): FileRecord {
  return {
    id: r.id,
    uploadId: r.upload_id,
    name: r.name,
    size: r.size,
    chunkSize: r.chunk_size,
    totalChunks: r.total_chunks,
    algorithm: r.algorithm,
    fileDigest: r.file_digest,
    etag: r.etag,
    metadata: JSON.parse(r.metadata) as Record<string, unknown>,
    blobRef: r.blob_ref,
    createdAt: r.created_at,
    owner: r.owner,
  };
}

export function toDeliveryRow(d: WebhookDelivery): DeliveryRow {
  return {
    event_id: d.eventId,
    endpoint: d.endpoint,
    type: d.type,
    payload: d.payload,
    created_at: d.createdAt,
    attempts: d.attempts,
    next_attempt_at: d.nextAttemptAt,
  };
}

export function fromDeliveryRow(r: DeliveryRow): WebhookDelivery {
  return {
    eventId: r.event_id,
    endpoint: r.endpoint,
    type: r.type,
    payload: r.payload,
    createdAt: r.created_at,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
  };
}

/** The webhook_outbox columns a delivery fills, in the order the SQL stores insert them. */
export const deliveryColumns = ['event_id', 'endpoint', 'type', 'payload', 'created_at', 'attempts', 'next_attempt_at'] as const satisfies ReadonlyArray<keyof DeliveryRow>;

/**
 * Where a page of the file listing starts: after the (created_at, id) position. No position: from the
 * newest (any id sorts after ''); createdBefore is a position before every id of that time.
 */
export function filePosition(query: FileQuery): { afterAt: number; afterId: string } {
  const position = query.after ? { afterAt: query.after.createdAt, afterId: query.after.id } : { afterAt: Number.MAX_SAFE_INTEGER, afterId: '' };
  return query.createdBefore !== undefined && query.createdBefore <= position.afterAt ? { afterAt: query.createdBefore, afterId: '' } : position;
}

export function toApiKey(r: ApiKeyRow): ApiKeyRecord {
  return {
    id: r.id,
    secretHash: r.secret_hash,
    identity: r.identity,
    role: r.role,
    label: r.label,
    createdAt: r.created_at,
    revokedAt: r.revoked_at,
  };
}
