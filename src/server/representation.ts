// Turns stored records into the protocol's JSON bodies.
import { Paths, readMetadata, type FileInfo, type UploadStatus } from '../protocol/index.js';
import type { FileRecord, StagedChunk, UploadRecord } from '../stores/types.js';

/**
 * `missing`: the ranges text of the chunks still to come (see missing-chunks.ts; '' unless uploading).
 * `staged`: the missing chunks the server keeps part of, from cut requests.
 */
export function uploadStatus(upload: UploadRecord, missing: string, base: string, staged: StagedChunk[] = []): UploadStatus {
  const complete = upload.state === 'complete';
  return {
    uploadId: upload.id,
    uploadUrl: base + Paths.upload(upload.id),
    state: upload.state,
    name: upload.name,
    size: upload.size,
    chunkSize: upload.chunkSize,
    totalChunks: upload.totalChunks,
    checksum: upload.algorithm,
    fileDigest: upload.fileDigest,
    metadata: readMetadata(upload.metadata),
    chunksReceived: upload.chunksReceived,
    bytesReceived: upload.bytesReceived,
    missing,
    staged,
    createdAt: new Date(upload.createdAt).toISOString(),
    expiresAt: new Date(upload.expiresAt).toISOString(),
    fileId: complete ? upload.fileId : null,
    fileUrl: complete && upload.fileId ? base + Paths.file(upload.fileId) : null,
  };
}

export function fileInfo(file: FileRecord, base: string): FileInfo {
  return {
    fileId: file.id,
    fileUrl: base + Paths.file(file.id),
    name: file.name,
    size: file.size,
    chunkSize: file.chunkSize,
    totalChunks: file.totalChunks,
    checksum: file.algorithm,
    fileDigest: file.fileDigest,
    metadata: readMetadata(file.metadata),
    createdAt: new Date(file.createdAt).toISOString(),
    owner: file.owner,
  };
}
