// Seeded test files: the same seed gives the same bytes on every run (AES-CTR keystream), fast enough
// for gibibytes, hashed while written so the expected digest costs no second read.
import { createCipheriv, createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

export interface SourceFile {
  path: string;
  size: number;
  /** Hex SHA-256 of the whole file. */
  sha: string;
}

/** The seeded byte stream: a keystream of AES-128-CTR keyed by the seed. */
export function seededStream(seed: number) {
  const key = Buffer.alloc(16);
  key.writeUInt32BE(seed >>> 0, 0);
  key.write('ferry-chaos', 4);
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
}

/** `size` seeded bytes in memory (small files only). */
export function seededBytes(size: number, seed: number): Buffer {
  return seededStream(seed).update(Buffer.alloc(size));
}

/** Writes `size` seeded bytes to `dir/name`, 4 MiB at a time. */
export async function makeSource(dir: string, size: number, seed: number, name = `source-${seed}.bin`): Promise<SourceFile> {
  const path = join(dir, name);
  const cipher = seededStream(seed);
  const hash = createHash('sha256');
  const zeros = Buffer.alloc(4 * MiB);
  const fh = await open(path, 'w');
  try {
    for (let at = 0; at < size; at += zeros.length) {
      const bytes = cipher.update(zeros.subarray(0, Math.min(zeros.length, size - at)));
      hash.update(bytes);
      await fh.write(bytes);
    }
  } finally {
    await fh.close();
  }
  return { path, size, sha: hash.digest('hex') };
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const part of createReadStream(path, { highWaterMark: 4 * MiB }) as AsyncIterable<Buffer>) hash.update(part);
  return hash.digest('hex');
}

/** Streams a URL and hashes it (no fault proxy in between: this is the check, not the test). */
export async function sha256Url(url: string): Promise<{ status: number; sha: string; size: number }> {
  const res = await fetch(url);
  const hash = createHash('sha256');
  let size = 0;
  for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) {
    hash.update(part);
    size += part.byteLength;
  }
  return { status: res.status, sha: hash.digest('hex'), size };
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
