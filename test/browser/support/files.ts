// Test files of random bytes on disk (what the page's file picker is given), with their SHA-256.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';

export interface TestFile {
  path: string;
  name: string;
  size: number;
  sha256: string;
}

export async function makeFile(dir: string, name: string, size: number): Promise<TestFile> {
  const path = join(dir, name);
  const out = createWriteStream(path);
  const hash = createHash('sha256');
  for (let written = 0; written < size; ) {
    const piece = randomBytes(Math.min(1 << 20, size - written));
    hash.update(piece);
    written += piece.length;
    if (!out.write(piece)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return { path, name, size, sha256: hash.digest('hex') };
}

/** SHA-256 (hex) of what a URL serves, streamed, and its length. */
export async function fetchDigest(url: string): Promise<{ sha256: string; size: number }> {
  const res = await fetch(url);
  if (!res.ok || !res.body) throw new Error(`GET ${url}: ${res.status}`);
  const hash = createHash('sha256');
  let size = 0;
  for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) {
    hash.update(part);
    size += part.length;
  }
  return { sha256: hash.digest('hex'), size };
}
