// Turns stored records into the protocol's JSON bodies.
import { formatIndexRanges, missingIndexes, Paths, type FileInfo, type UploadStatus } from '../protocol/index.js';
import type { ChunkRecord, FileRecord, UploadRecord } from '../stores/types.js';

export function uploadStatus(upload: UploadRecord, chunks: ChunkRecord[], base: string): UploadStatus {
  const complete = upload.state === 'complete';
  const missing =
    upload.state === 'uploading' ? formatIndexRanges(missingIndexes(upload.totalChunks, chunks.map((c) => c.index))) : '';
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
    metadata: upload.metadata,
    chunksReceived: upload.chunksReceived,
    bytesReceived: upload.bytesReceived,
    missing,
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
    metadata: file.metadata,
    createdAt: new Date(file.createdAt).toISOString(),
    owner: file.owner,
  };
}
