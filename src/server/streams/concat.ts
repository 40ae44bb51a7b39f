// tus concatenation: a final upload made of finished partial uploads, their bytes re-cut into its chunks.
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { bytesToBase64, chunkLength, FerryError, formatDigest, type Metadata } from '../../protocol/index.js';
import type { UploadRecord } from '../../stores/types.js';
import type { Principal } from '../auth/principal.js';
import type { ServerContext } from '../context.js';
import { streamWriterClaim } from '../../stores/held-claim.js';
import { takeChunkLease } from '../chunk-lease.js';
import { abortUpload, loadUpload } from '../upload-lifecycle.js';
import { appendToStream } from './append.js';
import { createStreamUpload } from './create.js';
import { streamOffset } from './offset.js';

/**
 * Creates the final upload of `partIds` (each a finished partial upload of `who`'s, in order) and fills
 * it with their bytes, each partial chunk checked against its recorded digest as it is read; then the
 * partials are retired. The partials' chunk sizes need not match the final's, so the bytes are copied
 * once (read from the partials, stored as the final's chunks); nothing is held in memory beyond a piece.
 */
export async function concatenate(ctx: ServerContext, req: IncomingMessage, who: Principal, partIds: string[], c: { name: string; metadata: Metadata }): Promise<UploadRecord> {
  if (partIds.length === 0) throw new FerryError('malformed-request', 'A final upload names at least one partial upload.');
  const parts: UploadRecord[] = [];
  for (const id of partIds) {
    const part = await loadUpload(ctx, id, who);
    if (part.protocol === 'ferry' || part.role !== 'part') throw new FerryError('malformed-request', `Upload ${id} is not a partial upload.`);
    if (part.state !== 'uploading' || part.lengthDeferred || part.chunksReceived !== part.totalChunks) {
      throw new FerryError('concatenation-incomplete', `Partial upload ${id} is not finished (${part.state}, ${part.chunksReceived} of ${part.totalChunks} chunks).`, { uploadId: id });
    }
    parts.push(part);
  }
  const size = parts.reduce((sum, p) => sum + p.size, 0);
  // Each partial's writer lease for the whole copy: no PATCH, and no other concatenation, meanwhile.
  const leases = await Promise.all([...new Set(partIds)].map((id) => takeChunkLease(ctx, id, streamWriterClaim)));
  try {
    if (leases.some((l) => !l)) throw new FerryError('upload-locked', 'A partial upload named is being written or concatenated; retry shortly.', { retryAfter: 1 });
    const final = await createStreamUpload(ctx, req, who, { protocol: 'tus', role: 'file', size, name: c.name, metadata: c.metadata, concatOf: partIds });
    try {
      const done = final.state === 'uploading' ? (await appendToStream(ctx, final, { offset: 0, body: partBytes(ctx, parts), contentLength: size, concatenation: true })).upload : final;
      if (done.state !== 'complete' && done.state !== 'completing') {
        throw new FerryError('internal-error', `The concatenation of ${partIds.length} partial uploads stopped at ${streamOffset(done)} of ${size} bytes.`);
      }
      // Retired: partials report no events, and aborting one frees its storage and the copy assembled to read it.
      for (const part of new Map(parts.map((p) => [p.id, p])).values()) await abortUpload(ctx, part);
      ctx.log.info({ uploadId: final.id, event: 'concatenated', parts: partIds, size }, 'partial uploads concatenated');
      return done;
    } catch (error) {
      await abortUpload(ctx, final).catch(() => false);
      throw error;
    }
  } finally {
    await Promise.all(leases.map((l) => l?.release()));
  }
}

/**
 * The partials' bytes in order, each partial chunk checked against its recorded digest before its last
 * piece is handed on (so a chunk of the final upload that takes a corrupt piece is never whole).
 */
async function* partBytes(ctx: ServerContext, parts: UploadRecord[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) {
    const chunks = await ctx.meta.listChunks(part.id);
    // The blob store reads only whole files: the partial is assembled (without copying) to be read.
    const ref = await ctx.blobs.complete(part.blobHandle, part.fileId!, chunks.map((c) => c.receipt));
    for (const chunk of chunks) {
      const start = chunk.index * part.chunkSize;
      const hash = createHash('sha256');
      let held: Uint8Array | null = null;
      for await (const piece of ctx.blobs.read(ref, start, start + chunkLength(part.size, part.chunkSize, chunk.index))) {
        hash.update(piece);
        if (held) yield held;
        held = piece;
      }
      const actual = formatDigest({ algorithm: 'sha-256', base64: bytesToBase64(hash.digest()) });
      if (actual !== chunk.digest) {
        throw new FerryError('internal-error', `Chunk ${chunk.index} of partial upload ${part.id} reads back as ${actual}, not ${chunk.digest}.`);
      }
      if (held) yield held;
    }
  }
}
