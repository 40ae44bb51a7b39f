// A ByteSource over a file on disk: positional reads of one open FileHandle, into buffers reused once
// the engine releases them (a fresh 8 MiB buffer per chunk costs page faults and garbage collections).
import { open, type FileHandle } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import type { ByteSource } from '../upload/io.js';

export interface FileSource extends ByteSource {
  readonly path: string;
  readonly mtimeMs: number;
  close(): Promise<void>;
}

/** Opens `path` for reading; the fingerprint is [absolute path, size, mtimeMs]. Close it when done. */
export async function createSource(path: string): Promise<FileSource> {
  const absolute = resolve(path);
  const handle = await open(absolute, 'r');
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new Error(`${absolute} is not a regular file`);
    return new FileHandleSource(handle, absolute, stat.size, stat.mtimeMs);
  } catch (e) {
    await handle.close();
    throw e;
  }
}

/** Released buffers kept per length (the chunks in flight plus read-ahead come back one by one). */
const maxSpare = 8;

class FileHandleSource implements FileSource {
  readonly name: string;
  readonly fingerprint: readonly (string | number)[];
  private closed = false;
  /** Released buffers by length, ready for the next read of that length. */
  private readonly spare = new Map<number, Uint8Array[]>();
  /** The buffers this source allocated (only those are taken back). */
  private readonly own = new WeakSet<Uint8Array>();

  constructor(
    private readonly handle: FileHandle,
    readonly path: string,
    readonly size: number,
    readonly mtimeMs: number,
  ) {
    this.name = basename(path);
    this.fingerprint = [path, size, mtimeMs];
  }

  async read(start: number, end: number, signal?: AbortSignal): Promise<Uint8Array> {
    if (start < 0 || end > this.size || start > end) throw new RangeError(`read(${start}, ${end}) outside 0..${this.size}`);
    const out = this.spare.get(end - start)?.pop() ?? this.allocate(end - start);
    let filled = 0;
    while (filled < out.byteLength) {
      signal?.throwIfAborted();
      const { bytesRead } = await this.handle.read(out, filled, out.byteLength - filled, start + filled);
      if (bytesRead === 0) throw new RangeError(`${this.path} ended at ${start + filled}; expected ${this.size} bytes (file changed?)`);
      filled += bytesRead;
    }
    return out;
  }

  release(bytes: Uint8Array): void {
    if (!this.own.has(bytes)) return;
    const list = this.spare.get(bytes.byteLength) ?? [];
    if (list.length < maxSpare && !list.includes(bytes)) list.push(bytes);
    this.spare.set(bytes.byteLength, list);
  }

  private allocate(length: number): Uint8Array {
    const bytes = new Uint8Array(length);
    this.own.add(bytes);
    return bytes;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }
}
