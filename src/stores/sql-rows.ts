// The row shapes both SQL metadata stores use (the same columns in SQLite and PostgreSQL) and their
// mapping to and from the store records.
import type { DigestAlgorithm, UploadState } from '../protocol/index.js';
import type { ApiKeyRecord, ChunkRecord, FileQuery, FileRecord, Role, UploadRecord, WebhookDelivery } from './types.js';

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
  };
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
