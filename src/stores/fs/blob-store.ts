// Blobs on the local filesystem: chunks written in place into a preallocated <dir>/uploads/<id>.part,
// which completion renames to <dir>/files/<fileId> without copying a byte. A stream upload's chunk
// written across requests (stageChunk) is staged in place too: its bytes are where they will stay.
import { mkdirSync } from 'node:fs';
import { open, readdir, rename, stat, statfs, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError, KiB, MiB } from '../../protocol/index.js';
import type { BlobStore, BlobStoreOptions, ChunkPlace, IncompleteBlob, ReadOptions, StagedResult } from '../types.js';
import { drainStagedBody, type DrainedBody } from '../staged-body.js';

export interface FsBlobStoreOptions {
  /** The data directory; uploads/ and files/ are created inside it. */
  dir: string;
  /** fsync chunks, completed files and their directories before acknowledging (off only for tests/benchmarks). */
  fsync: boolean;
}

const readBlockBytes = 1 * MiB;
/**
 * Read blocks kept for the next response. A download client fetches one range per chunk, so a fresh
 * block per response was 128 MiB of short-lived buffers per GiB served, enough to start V8's major
 * garbage collections on the server; kept blocks make a busy download server allocate nothing.
 */
const keptReadBlocks = 8;
/**
 * Bytes gathered before one writev (two batches at most per chunk in memory). Not 1 MiB: writes that
 * large sometimes cost several times the system time on the benchmark VM (the kernel finding room for
 * 1 MiB page-cache folios; `node bench/probes/page-cache-write.mjs /tmp 4 1024` against `... 256`).
 */
const writeBatchBytes = 256 * KiB;

/** Handles are upload ids and refs are file ids: plain names, never paths. */
export class FsBlobStore implements BlobStore {
  readonly stagesInPlace = true;
  readonly #uploads: string;
  readonly #files: string;
  readonly #fsync: boolean;
  readonly #readBlocks: Buffer[] = [];

  constructor(options: FsBlobStoreOptions) {
    this.#uploads = join(options.dir, 'uploads');
    this.#files = join(options.dir, 'files');
    this.#fsync = options.fsync;
    // Once, at startup; keeps the constructor usable without an async factory.
    mkdirSync(this.#uploads, { recursive: true });
    mkdirSync(this.#files, { recursive: true });
  }

  async begin(uploadId: string, size: number, _totalChunks: number): Promise<string> {
    const path = this.#partPath(uploadId);
    try {
      // 'wx': an id collision must fail loudly rather than truncate another upload's bytes.
      await withFile(path, 'wx', async (fh) => {
        // Sparse: blocks are allocated as chunks arrive. Size 0 for a deferred length: writes past the
        // end grow the file.
        await fh.truncate(size);
        if (this.#fsync) await fh.sync();
      });
      // The entry must be durable too, or a power loss could lose a file whose chunks were acknowledged.
      if (this.#fsync) await syncDir(this.#uploads);
    } catch (e) {
      if (errorCode(e) !== 'EEXIST') await unlink(path).catch(() => {});
      throw storageError(e);
    }
    return uploadId;
  }

  async putChunk(handle: string, place: ChunkPlace, body: AsyncIterable<Uint8Array>, options: BlobStoreOptions = {}): Promise<string> {
    checkPlace(place);
    const path = this.#partPath(handle);
    try {
      await withFile(path, 'r+', async (fh) => {
        // Pieces are gathered into batches written with one writev each, the next batch filling while
        // the last is written: a socket's 64 KiB pieces do not each wait for a disk round trip, and at
        // most two batches per chunk are held (backpressure, bounded memory).
        const out = new BatchWriter(fh, place.offset);
        let written = 0;
        try {
          for await (const piece of body) {
            options.signal?.throwIfAborted();
            if (written + piece.byteLength > place.length) {
              throw new FerryError('chunk-too-long', `Chunk ${place.index} is ${place.length} bytes; the body is longer.`, {
                expected: place.length,
              });
            }
            await out.push(piece);
            written += piece.byteLength;
          }
          await out.finish();
        } catch (e) {
          await out.settle(); // never close the file under a write in flight
          throw e;
        }
        if (written !== place.length) {
          throw new FerryError('chunk-length-mismatch', `Chunk ${place.index} is ${place.length} bytes; the body had ${written}.`, {
            expected: place.length,
            received: written,
          });
        }
        if (this.#fsync) await fh.datasync();
      });
    } catch (e) {
      throw storageError(e);
    }
    return '';
  }

  async stageChunk(handle: string, place: ChunkPlace, have: number, body: AsyncIterable<Uint8Array>, options: BlobStoreOptions = {}): Promise<StagedResult> {
    checkPlace(place);
    checkHave(place, have);
    const path = this.#partPath(handle);
    let drained: DrainedBody = { received: 0, failed: false };
    try {
      await withFile(path, 'r+', async (fh) => {
        const out = new BatchWriter(fh, place.offset + have);
        try {
          // Cut part-way, what the body yielded before is kept.
          drained = await drainStagedBody(place, have, body, options.signal, (piece) => out.push(piece));
          // A writer that lost its right to the chunk while its body failed writes nothing it still
          // holds: those bytes could land over what its successor wrote, checked and recorded since.
          options.signal?.throwIfAborted();
          await out.finish();
        } catch (e) {
          await out.settle(); // never close the file under a write in flight
          throw e;
        }
        options.signal?.throwIfAborted();
        if (this.#fsync) await fh.datasync();
      });
    } catch (e) {
      throw storageError(e);
    }
    const staged = have + drained.received;
    return { staged, receipt: staged === place.length ? endReceipt(place) : null, ...(drained.failed ? { failure: drained.failure } : {}) };
  }

  async *readStaged(handle: string, place: ChunkPlace, length: number, options: BlobStoreOptions = {}): AsyncIterable<Uint8Array> {
    checkPlace(place);
    if (!Number.isSafeInteger(length) || length < 0 || length > place.length) {
      throw new RangeError(`Cannot read ${length} staged bytes of chunk ${place.index} (${place.length} bytes).`);
    }
    yield* this.#readRange(this.#partPath(handle), handle, place.offset, place.offset + length, options);
  }

  async complete(handle: string, fileId: string, receipts: string[]): Promise<string> {
    const part = this.#partPath(handle);
    const target = this.#filePath(fileId);
    const end = fileEnd(receipts);
    try {
      if (end !== null && (await stat(part)).size > end) {
        // A stream upload's file ends where its last chunk ends, whatever was staged past it and never
        // recorded (a body refused by its checksum that ran into the next chunks, then a shorter
        // length). Cut before the rename, so a completed file is never longer than its record; a
        // retried complete finds it renamed. (Staged Ferry chunks end where the file does: no cut.)
        await withFile(part, 'r+', async (fh) => {
          await fh.truncate(end);
          if (this.#fsync) await fh.datasync();
        });
      } else if (this.#fsync) {
        // Every chunk was fdatasynced as it arrived, and with it the file's size: what is left to flush
        // is at most timestamps, which need no journal commit of their own (fsync waited for one: 10-15
        // ms at times here, whatever else the journal carried). The directories' fsyncs make the rename durable.
        await withFile(part, 'r', (fh) => fh.datasync());
      }
      await rename(part, target);
    } catch (e) {
      // A crash between the rename and the metadata update leaves only the target: that is success.
      if (errorCode(e) !== 'ENOENT' || !(await exists(target))) throw storageError(e);
    }
    if (this.#fsync) {
      await syncDir(this.#files);
      await syncDir(this.#uploads);
    }
    return fileId;
  }

  async *read(fileRef: string, start: number, end: number, options: ReadOptions = {}): AsyncIterable<Uint8Array> {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
      throw new RangeError(`Invalid byte range [${start}, ${end}).`);
    }
    yield* this.#readRange(this.#filePath(fileRef), fileRef, start, end, options);
  }

  /** Bytes [start, end) of the file at `path` (`name` for messages). */
  async *#readRange(path: string, name: string, start: number, end: number, options: ReadOptions): AsyncGenerator<Uint8Array> {
    options.signal?.throwIfAborted();
    if (start === end) {
      await stat(path); // an empty range of a missing file is still an error
      return;
    }
    // fh.read into our own buffers: a read stream allocates a new one per read, and on a busy download
    // server those allocations (page faults, garbage collection) cost more than the reads themselves.
    let got = 0;
    const fh = await open(path, 'r');
    const lender = options.buffers;
    const block = !lender && options.reuseBuffers ? (this.#readBlocks.pop() ?? Buffer.allocUnsafeSlow(readBlockBytes)) : null;
    // A lent buffer is held only from its read until the caller asks for the next piece.
    let lent: Buffer | null = null;
    try {
      while (got < end - start) {
        options.signal?.throwIfAborted();
        if (lender) lent = await lender.borrow(end - start - got, options.signal);
        const into = lent ?? block ?? Buffer.allocUnsafeSlow(Math.min(readBlockBytes, end - start - got));
        const want = Math.min(lent ? lent.length : readBlockBytes, end - start - got);
        const { bytesRead } = await fh.read(into, 0, want, start + got);
        if (bytesRead === 0) break;
        got += bytesRead;
        yield into.subarray(0, bytesRead);
        if (lent) lender!.giveBack(lent);
        lent = null;
      }
    } finally {
      if (lent) lender!.giveBack(lent);
      if (block && this.#readBlocks.length < keptReadBlocks) this.#readBlocks.push(block);
      await fh.close();
    }
    // A file shorter than its record must not turn into a silently truncated download.
    if (got !== end - start) throw new Error(`Short read of ${name}: wanted ${end - start} bytes from ${start}, got ${got}.`);
  }

  async listIncomplete(): Promise<IncompleteBlob[]> {
    const names = (await readdir(this.#uploads)).filter((n) => n.endsWith('.part'));
    const found: IncompleteBlob[] = [];
    for (const name of names) {
      const handle = name.slice(0, -'.part'.length);
      // Gone meanwhile (completed or aborted): not incomplete any more.
      const info = await stat(join(this.#uploads, name)).catch(() => null);
      if (info) found.push({ uploadId: handle, handle, startedAt: info.birthtimeMs || info.ctimeMs });
    }
    return found;
  }

  fileRefOf(_handle: string, fileId: string): string {
    return fileId;
  }

  async abort(handle: string): Promise<void> {
    await unlinkIfPresent(this.#partPath(handle));
  }

  async deleteFile(fileRef: string): Promise<void> {
    await unlinkIfPresent(this.#filePath(fileRef));
  }

  async freeSpace(): Promise<{ available: number; total: number }> {
    // Uploads are sparse files filled in place, so what the volume has free is what they can still take.
    const fs = await statfs(this.#uploads);
    return { available: fs.bavail * fs.bsize, total: fs.blocks * fs.bsize };
  }

  async close(): Promise<void> {}

  #partPath(handle: string): string {
    return join(this.#uploads, `${safeName(handle, 'upload handle')}.part`);
  }

  #filePath(fileRef: string): string {
    return join(this.#files, safeName(fileRef, 'file reference'));
  }
}

function safeName(name: string, what: string): string {
  if (name === '' || /[/\\\0]/.test(name) || name.includes('..')) {
    throw new Error(`Refusing ${what} ${JSON.stringify(name)}: it must be a plain name inside the data directory.`);
  }
  return name;
}

function checkPlace(place: ChunkPlace): void {
  const ok = [place.index, place.offset, place.length].every((n) => Number.isSafeInteger(n) && n >= 0);
  if (!ok) throw new RangeError(`Invalid chunk place ${JSON.stringify(place)}.`);
}

/**
 * The receipt of a chunk made whole by stageChunk: where the chunk ends in the file. Stream uploads
 * store their chunks in order, the last one last, so the last chunk's receipt says where the file
 * ends; complete() cuts anything staged past it. Ferry uploads' chunks are staged too (this store
 * stages in place); their file is begun at its exact size and only ever written inside it, so the
 * last chunk ends where the file does. putChunk's receipt is ''.
 */
function endReceipt(place: ChunkPlace): string {
  return `end:${place.offset + place.length}`;
}

/** Where the file of an upload with these receipts ends, when its last chunk says so (else null). */
function fileEnd(receipts: string[]): number | null {
  const match = /^end:(\d{1,16})$/.exec(receipts.at(-1) ?? '');
  const end = match ? Number(match[1]) : NaN;
  return Number.isSafeInteger(end) ? end : null;
}

function checkHave(place: ChunkPlace, have: number): void {
  if (!Number.isSafeInteger(have) || have < 0 || have > place.length) {
    throw new RangeError(`Invalid staged byte count ${have} for chunk ${place.index} (${place.length} bytes).`);
  }
}

/** Runs `fn` with the file open and always closes it; a close error surfaces only if `fn` succeeded. */
async function withFile<T>(path: string, flags: string, fn: (fh: FileHandle) => Promise<T>): Promise<T> {
  const fh = await open(path, flags);
  let result: T;
  try {
    result = await fn(fh);
  } catch (e) {
    await fh.close().catch(() => {});
    throw e;
  }
  // Closed outside a finally so that a deferred write error from close() is reported, not swallowed.
  await fh.close();
  return result;
}

/** Writes pieces at consecutive positions, batching them into writev calls with one batch in flight. */
class BatchWriter {
  #queue: Uint8Array[] = [];
  #queued = 0;
  #position: number;
  #writing: Promise<void> | null = null;

  constructor(
    private readonly fh: FileHandle,
    position: number,
  ) {
    this.#position = position;
  }

  /** Queues `piece`; when a batch is full, waits for the previous write and starts this one. */
  async push(piece: Uint8Array): Promise<void> {
    this.#queue.push(piece);
    this.#queued += piece.byteLength;
    if (this.#queued >= writeBatchBytes) await this.#flush();
  }

  /** Writes what is queued and waits for every write. */
  async finish(): Promise<void> {
    if (this.#queued > 0) await this.#flush();
    await this.#writing;
  }

  /** Waits for the write in flight, ignoring its outcome (the caller is already failing). */
  async settle(): Promise<void> {
    await this.#writing?.catch(() => {});
  }

  async #flush(): Promise<void> {
    await this.#writing;
    const pieces = this.#queue;
    const position = this.#position;
    this.#position += this.#queued;
    this.#queue = [];
    this.#queued = 0;
    this.#writing = writevFully(this.fh, pieces, position);
    // Observed by the next push or finish; a failure meanwhile must not count as unhandled.
    this.#writing.catch(() => {});
  }
}

async function writevFully(fh: FileHandle, pieces: Uint8Array[], position: number): Promise<void> {
  let rest = pieces;
  while (rest.length > 0) {
    const { bytesWritten } = await fh.writev(rest, position);
    if (bytesWritten <= 0) throw new Error('writev() made no progress');
    position += bytesWritten;
    rest = dropBytes(rest, bytesWritten);
  }
}

/** The pieces left after the first `n` bytes (a short write). */
function dropBytes(pieces: Uint8Array[], n: number): Uint8Array[] {
  let i = 0;
  while (i < pieces.length && n >= pieces[i]!.byteLength) n -= pieces[i++]!.byteLength;
  const rest = pieces.slice(i);
  if (n > 0 && rest.length > 0) rest[0] = rest[0]!.subarray(n);
  return rest;
}

async function syncDir(path: string): Promise<void> {
  await withFile(path, 'r', (fh) => fh.sync());
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return false;
    throw e;
  }
}

async function unlinkIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (e) {
    if (errorCode(e) !== 'ENOENT') throw e;
  }
}

function errorCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/** A full disk or quota becomes the 507 problem; anything else passes through unchanged. */
function storageError(e: unknown): unknown {
  const code = errorCode(e);
  if (code !== 'ENOSPC' && code !== 'EDQUOT') return e;
  const err = new FerryError('insufficient-storage', 'The server has no room left to store this upload.');
  err.cause = e;
  return err;
}
