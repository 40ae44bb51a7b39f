// The benchmark's scratch space: one directory on one filesystem for every contender's data, the
// generated source files, and the "settle" step run between measurements.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statfsSync, statSync } from 'node:fs';
import { open, readdir, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMeasured } from './procs.js';
import { MiB } from './stats.js';

export class WorkDir {
  readonly root: string;

  constructor(parent = tmpdir()) {
    this.root = mkdtempSync(join(parent, 'ferry-bench-'));
    // Readable by nginx's workers, which drop root privileges.
    chmodSync(this.root, 0o755);
  }

  /** A fresh subdirectory (emptied if it exists). */
  dir(name: string): string {
    const path = join(this.root, name);
    rmSync(path, { recursive: true, force: true });
    mkdirSync(path, { recursive: true });
    return path;
  }

  path(name: string): string {
    return join(this.root, name);
  }

  /** Every path the benchmark writes to must be on the same filesystem as the root. */
  assertSameFilesystem(path: string): void {
    if (statSync(path).dev !== statSync(this.root).dev) throw new Error(`${path} is not on the filesystem of ${this.root}`);
  }

  /** Free bytes on the scratch filesystem. */
  freeBytes(): number {
    const s = statfsSync(this.root);
    return s.bavail * s.bsize;
  }

  dispose(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

/**
 * Writes `size` bytes of incompressible data (a random 16 MiB block, each MiB stamped with its
 * index so no two are alike), flushed to disk so later runs start from the same state.
 */
export async function generateFile(path: string, size: number): Promise<void> {
  const block = randomBytes(16 * MiB);
  const fh = await open(path, 'w');
  try {
    const piece = 8 * MiB;
    for (let at = 0; at < size; at += piece) {
      const n = Math.min(piece, size - at);
      const buf = Buffer.from(block.subarray((at / MiB) % 8 * MiB, (at / MiB) % 8 * MiB + n));
      for (let m = 0; m < n; m += MiB) buf.writeBigUInt64LE(BigInt(at + m), m);
      await fh.write(buf, 0, n, at);
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** A sparse file of `size` zero bytes (reads cost no disk). */
export async function sparseFile(path: string, size: number): Promise<void> {
  await (await open(path, 'w')).close();
  await truncate(path, size);
}

/** Deletes everything inside `dir`, keeping the directory. */
export async function emptyDir(dir: string): Promise<void> {
  for (const name of await readdir(dir).catch(() => [])) await rm(join(dir, name), { recursive: true, force: true });
}

/** Flushes every dirty page to disk so one run's write-back does not slow the next. */
export async function settle(): Promise<void> {
  await runMeasured('sync', []);
}
