// The download target on disk: `<destination>.part` written at offsets through one FileHandle, the
// sidecar `<destination>.part.ferry` replaced atomically (temp file, fsync, rename), and the final
// rename of the `.part` into place.
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { DownloadTarget, PartFile } from '../download/io.js';

export interface FileTarget extends DownloadTarget {
  readonly partPath: string;
  readonly statePath: string;
}

export function createFileTarget(destination: string): FileTarget {
  return new FileDownloadTarget(resolve(destination));
}

class FileDownloadTarget implements FileTarget {
  readonly partPath: string;
  readonly statePath: string;

  constructor(readonly path: string) {
    this.partPath = `${path}.part`;
    this.statePath = `${path}.part.ferry`;
  }

  async readState(): Promise<string | null> {
    try {
      return await readFile(this.statePath, 'utf8');
    } catch (e) {
      if (isMissing(e)) return null;
      throw e;
    }
  }

  async writeState(text: string): Promise<void> {
    // A unique temp name: two processes on one destination must not write into each other's temp.
    const tmp = `${this.statePath}.${randomBytes(6).toString('hex')}.tmp`;
    const handle = await open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(text);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    try {
      await rename(tmp, this.statePath);
    } catch (e) {
      await unlink(tmp).catch(() => {});
      throw e;
    }
  }

  async openPart(size: number | null, mode: 'fresh' | 'resume'): Promise<PartFile | null> {
    if (mode === 'fresh') {
      const handle = await open(this.partPath, 'w+', 0o644);
      // Sparse: the size is reserved in the inode, blocks are allocated as ranges land.
      if (size !== null) await handle.truncate(size).catch(async (e: unknown) => {
        await handle.close();
        throw e;
      });
      return new HandlePartFile(handle, this.partPath);
    }
    let handle: FileHandle;
    try {
      handle = await open(this.partPath, 'r+');
    } catch (e) {
      if (isMissing(e)) return null;
      throw e;
    }
    const stat = await handle.stat();
    if (!stat.isFile() || stat.size !== size) {
      await handle.close();
      return null;
    }
    return new HandlePartFile(handle, this.partPath);
  }

  async commit(): Promise<void> {
    await rename(this.partPath, this.path);
    await syncDirectory(dirname(this.path));
    await unlink(this.statePath).catch((e: unknown) => {
      if (!isMissing(e)) throw e;
    });
  }

  async discard(): Promise<void> {
    for (const p of [this.partPath, this.statePath]) {
      await unlink(p).catch((e: unknown) => {
        if (!isMissing(e)) throw e;
      });
    }
  }

  toString(): string {
    return basename(this.path);
  }
}

class HandlePartFile implements PartFile {
  private closed = false;

  constructor(
    private readonly handle: FileHandle,
    private readonly path: string,
  ) {}

  async write(offset: number, parts: readonly Uint8Array[]): Promise<void> {
    const total = parts.reduce((n, p) => n + p.byteLength, 0);
    if (total === 0) return;
    // One pwritev for the whole piece (libuv splits it at IOV_MAX); a short write finishes part by part.
    let done = (await this.handle.writev(parts as Uint8Array[], offset)).bytesWritten;
    if (done === total) return;
    let skip = done;
    for (const part of parts) {
      if (skip >= part.byteLength) {
        skip -= part.byteLength;
        continue;
      }
      for (let at = skip; at < part.byteLength; ) {
        const { bytesWritten } = await this.handle.write(part, at, part.byteLength - at, offset + done);
        at += bytesWritten;
        done += bytesWritten;
      }
      skip = 0;
    }
  }

  async read(start: number, end: number): Promise<Uint8Array> {
    const out = new Uint8Array(end - start);
    let filled = 0;
    while (filled < out.byteLength) {
      const { bytesRead } = await this.handle.read(out, filled, out.byteLength - filled, start + filled);
      if (bytesRead === 0) throw new RangeError(`${this.path} ended at ${start + filled}, before ${end}`);
      filled += bytesRead;
    }
    return out;
  }

  async sync(): Promise<void> {
    if (!this.closed) await this.handle.datasync();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }
}

/** Makes a rename durable: the directory entry is what changed (best effort where unsupported). */
async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | null = null;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Some platforms and file systems cannot open or fsync a directory; the rename itself is atomic.
  } finally {
    await handle?.close().catch(() => {});
  }
}

function isMissing(e: unknown): boolean {
  return (e as NodeJS.ErrnoException)?.code === 'ENOENT';
}
