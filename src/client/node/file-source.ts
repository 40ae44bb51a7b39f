// A ByteSource over a file on disk: positional reads of one open FileHandle.
import { open, type FileHandle } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import type { ByteSource } from '../io.js';

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

class FileHandleSource implements FileSource {
  readonly name: string;
  readonly fingerprint: readonly (string | number)[];
  private closed = false;

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
    const out = new Uint8Array(end - start);
    let filled = 0;
    while (filled < out.byteLength) {
      signal?.throwIfAborted();
      const { bytesRead } = await this.handle.read(out, filled, out.byteLength - filled, start + filled);
      if (bytesRead === 0) throw new RangeError(`${this.path} ended at ${start + filled}; expected ${this.size} bytes (file changed?)`);
      filled += bytesRead;
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }
}
