// Copies one finished file from a single node's stores into other stores (PostgreSQL and S3): its bytes
// streamed part by part and checked on the way, then its upload, chunk rows, file record and manifest,
// so that it downloads and verifies exactly as before. Safe to run again after a crash at any step.
import { completionClaim, HeldClaim } from '../held-claim.js';
import { randomUUID } from 'node:crypto';
import { chunkCount, chunkLength } from '../../protocol/index.js';
import type { Stores } from '../open.js';
import type { BlobLimits, FileRecord, MetaStore, UploadRecord } from '../types.js';
import { ChunkDigests } from './chunk-digests.js';

export type CopyOutcome =
  /** Copied now; `parts` pieces of `partSize` bytes went to the target blob store. */
  | { outcome: 'copied'; parts: number; partSize: number }
  /** The target already has it (an earlier run copied it). */
  | { outcome: 'present' }
  /** Another migration is copying it right now. */
  | { outcome: 'busy' };

/**
 * The completion lease while copying, renewed every third of it: a server on the target leaves the
 * upload alone. Short, because a run that was killed holds its files this long for the next run.
 */
export const MigrationLeaseMs = 15_000;
const leaseMs = MigrationLeaseMs;
/** The expiry of the upload row while its bytes are copied: far enough that no sweep on the target expires it. */
const holdMs = 24 * 60 * 60 * 1000;

export async function copyFile(source: Stores, target: Stores, file: FileRecord, now: () => number = Date.now): Promise<CopyOutcome> {
  const there = await target.meta.getUpload(file.uploadId);
  if ((await target.meta.getFile(file.id)) && (!there || there.state === 'complete')) {
    await copyManifest(source.meta, target.meta, file.id);
    return { outcome: 'present' };
  }
  const lease = new MigrationLease(target.meta, file.uploadId, now);
  try {
    if (there) {
      // A run that stopped part-way (or one under way: then its lease is held).
      if (!(await lease.take())) return { outcome: 'busy' };
      if (assembled(there)) {
        await finish(source, target, file, there, lease);
        return { outcome: 'copied', ...layout(file, target.blobs.limits) };
      }
      await discard(target, there);
    }
    const upload = await copyBytes(source, target, file, lease, now);
    if (!upload) return { outcome: 'busy' };
    await finish(source, target, file, upload, lease);
    return { outcome: 'copied', ...layout(file, target.blobs.limits) };
  } finally {
    await lease.release();
  }
}

/**
 * Chunk rows are recorded only after the target assembled the bytes, so an upload with all of them
 * (or moved on to 'completing') has its object in place: only the records are left to write.
 */
function assembled(upload: UploadRecord): boolean {
  return upload.state === 'completing' || (upload.state === 'uploading' && upload.chunksReceived === upload.totalChunks);
}

/**
 * The target's parts: the file's own chunks when the target takes them, else larger ones (S3: at
 * least 5 MiB, at most 10,000 parts). The file keeps its chunk size, digests, manifest and ETag
 * either way: they describe the file's bytes, which do not change; parts are only how they travel.
 */
export function layout(file: { size: number; chunkSize: number }, limits: BlobLimits | undefined): { parts: number; partSize: number } {
  let partSize = file.chunkSize;
  if (limits) partSize = Math.max(partSize, limits.minChunkSize, Math.ceil(file.size / limits.maxChunks));
  return { parts: chunkCount(file.size, partSize), partSize };
}

/**
 * Creates the upload row (holding the completion lease), streams the bytes into the target blob store
 * part by part, checked against the file's recorded chunk digests, assembles them, then records the
 * chunk rows. Undefined when another migration created the row first. On failure nothing is left.
 */
async function copyBytes(source: Stores, target: Stores, file: FileRecord, lease: MigrationLease, now: () => number): Promise<UploadRecord | undefined> {
  const { parts, partSize } = layout(file, target.blobs.limits);
  const handle = await target.blobs.begin(file.uploadId, file.size, parts);
  const started = now();
  const from = await source.meta.getUpload(file.uploadId);
  const upload: UploadRecord = {
    id: file.uploadId,
    state: 'uploading',
    name: file.name,
    size: file.size,
    chunkSize: file.chunkSize,
    totalChunks: file.totalChunks,
    algorithm: file.algorithm,
    fileDigest: file.fileDigest,
    metadata: file.metadata,
    blobHandle: handle,
    chunksReceived: 0,
    bytesReceived: 0,
    createdAt: from?.createdAt ?? file.createdAt,
    updatedAt: started,
    expiresAt: started + holdMs,
    fileId: file.id,
    owner: file.owner,
    // Grant budgets stay behind: the grants that spent them are short-lived.
    grantId: null,
    // How its bytes came (Ferry's chunks, tus or IETF); it became a file, so it is one with a known
    // length, and every chunk is whole (nothing staged).
    protocol: from?.protocol ?? 'ferry',
    role: 'file',
    lengthDeferred: false,
    stagedBytes: 0,
    concatOf: from?.concatOf ?? null,
  };
  // The row first: a server on the target frees storage that no upload row names.
  try {
    await target.meta.createUpload(upload);
  } catch (error) {
    await target.blobs.abort(handle).catch(() => {});
    if (await target.meta.getUpload(file.uploadId)) return undefined;
    throw error;
  }
  if (!(await lease.take())) return undefined;
  try {
    const digests = new ChunkDigests(file, await recordedDigests(source.meta, file));
    const receipts: string[] = [];
    for (let index = 0; index < parts; index++) {
      const offset = index * partSize;
      const length = chunkLength(file.size, partSize, index);
      const body = digests.through(source.blobs.read(file.blobRef, offset, offset + length));
      receipts.push(await target.blobs.putChunk(handle, { index, offset, length }, body));
      lease.check();
    }
    const chunkDigests = digests.finish();
    await target.blobs.complete(handle, file.id, receipts);
    lease.check();
    // Receipts name parts; when parts are not the file's chunks there is none to keep per chunk.
    const sameLayout = partSize === file.chunkSize;
    for (let index = 0; index < file.totalChunks; index++) {
      const chunk = { index, size: chunkLength(file.size, file.chunkSize, index), digest: chunkDigests[index]!, receipt: sameLayout ? receipts[index]! : '' };
      const recorded = await target.meta.recordChunk(file.uploadId, chunk, now() + holdMs);
      if (recorded.outcome !== 'recorded' && recorded.outcome !== 'exists') throw new Error(`the target refused chunk ${index} (${recorded.outcome})`);
    }
    return (await target.meta.getUpload(file.uploadId))!;
  } catch (error) {
    // Nothing half-copied stays behind: the next run starts this file over. Unless another process
    // took the upload over: it is then that one's to finish.
    if (!lease.lost) await discard(target, upload).catch(() => {});
    throw error;
  }
}

/** With the bytes in place: the upload 'completing', the file record, its manifest, then 'complete'. */
async function finish(source: Stores, target: Stores, file: FileRecord, upload: UploadRecord, lease: MigrationLease): Promise<void> {
  lease.check();
  await target.meta.transition(upload.id, ['uploading'], 'completing');
  if (!(await target.meta.getFile(file.id))) {
    // The source's id, name, owner, metadata, ETag and creation time (--file-ttl counts from it); the target's reference.
    await target.meta.createFile({ ...file, blobRef: target.blobs.fileRefOf(upload.blobHandle, file.id) });
  }
  await copyManifest(source.meta, target.meta, file.id);
  if (!(await target.meta.transition(upload.id, ['completing'], 'complete', { fileId: file.id }))) {
    const state = (await target.meta.getUpload(upload.id))?.state;
    if (state !== 'complete') throw new Error(`the target's upload ${upload.id} is ${state ?? 'gone'}, not completing`);
  }
}

/** Frees what a run that stopped part-way left in the target: its storage, assembled or not, and its row. */
async function discard(target: Stores, upload: UploadRecord): Promise<void> {
  await target.blobs.abort(upload.blobHandle);
  if (upload.fileId) await target.blobs.deleteFile(target.blobs.fileRefOf(upload.blobHandle, upload.fileId));
  await target.meta.deleteUpload(upload.id);
}

/** The file's recorded chunk digests by index, or null when the source does not hold all of them. */
async function recordedDigests(meta: MetaStore, file: FileRecord): Promise<string[] | null> {
  const digests: string[] = [];
  const page = 1000;
  for (;;) {
    const rows = await meta.listChunks(file.uploadId, { from: digests.length, limit: page });
    for (const row of rows) {
      if (row.index !== digests.length) return null;
      digests.push(row.digest);
    }
    if (rows.length < page) break;
  }
  return digests.length === file.totalChunks ? digests : null;
}

/**
 * The stored manifest, part for part: the same chunk list, so the same bytes. A file without one in
 * the source gets it built from its chunk rows at its first request, as on the single node.
 */
async function copyManifest(source: MetaStore, target: MetaStore, fileId: string): Promise<void> {
  if (await target.getManifest(fileId)) return;
  const manifest = await source.getManifest(fileId);
  if (!manifest) return;
  for (let part = 0; part < manifest.parts; part++) {
    const data = await source.getManifestPart(fileId, part);
    if (!data) return;
    await target.putManifestPart(fileId, part, data);
  }
  await target.sealManifest(fileId, manifest);
}

/** The upload's completion lease in the target (taken once the upload row exists), renewed while the copy runs. */
class MigrationLease {
  #held: HeldClaim | undefined;

  constructor(
    private readonly meta: MetaStore,
    private readonly uploadId: string,
    private readonly now: () => number,
  ) {}

  async take(): Promise<boolean> {
    this.#held ??= await HeldClaim.take(this.meta, this.uploadId, completionClaim, { token: `ferry-migrate/${randomUUID()}`, leaseMs, now: this.now });
    return this.#held !== undefined;
  }

  /** Whether a renewal failed (another process may have taken the upload over). */
  get lost(): boolean {
    return this.#held?.lost ?? false;
  }

  /** Throws when the lease could not be renewed: whoever took it over finishes the file. */
  check(): void {
    this.#held?.check();
  }

  async release(): Promise<void> {
    await this.#held?.release();
  }
}
