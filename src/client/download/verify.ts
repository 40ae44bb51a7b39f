// End-to-end checks of a finished `.part`: every chunk verified (manifest), and the whole file
// against the server's Repr-Digest when it offers one, hashed in order as bytes arrive while they
// arrive in order, and by re-reading the rest of the `.part` once they stop doing so.
import { MiB } from '../../protocol/index.js';
import type { IncrementalHash } from '../engine/io.js';
import type { DownloadContext, Verification } from './context.js';
import { DownloadError } from './errors.js';
import type { PartFile } from './io.js';
import { sameDigest, type PiecePlan } from './plan.js';
import type { RemoteInfo } from './probe.js';

export class OrderedHash {
  /** Bytes [0, next) are hashed. */
  private next = 0;

  constructor(private readonly hash: IncrementalHash) {}

  /** Takes bytes written at `start` when they continue the hashed prefix; others are read back later. */
  offer(start: number, parts: readonly Uint8Array[]): void {
    if (start !== this.next) return;
    for (const part of parts) {
      this.hash.update(part);
      this.next += part.byteLength;
    }
  }

  /** Hashes what is left of the `.part` (everything not offered in order) and returns the digest. */
  async finish(part: PartFile, size: number): Promise<string> {
    for (let pos = this.next; pos < size; ) {
      const end = Math.min(size, pos + 8 * MiB);
      this.hash.update(await part.read(pos, end));
      pos = end;
    }
    this.next = size;
    return this.hash.digest();
  }
}

/** A whole-file hash when the server offers a digest to compare with and the hasher can stream. */
export function wholeFileHash(ctx: DownloadContext, remote: RemoteInfo): OrderedHash | null {
  const { hasher } = ctx.o.io;
  if (remote.reprDigest === null || !hasher.createHash) return null;
  return new OrderedHash(hasher.createHash('sha-256'));
}

export interface FinishedPart {
  remote: RemoteInfo;
  plan: PiecePlan;
  part: PartFile;
  size: number;
  isDone(index: number): boolean;
  wholeHash: OrderedHash | null;
}

/**
 * Throws 'verification' when the bytes do not check out. With a manifest every chunk was hashed
 * against it before it counted (this run, or a run the sidecar records) and the manifest's digests
 * derive the file's ETag (checked when the download opened).
 */
export async function verifyWhole(ctx: DownloadContext, f: FinishedPart): Promise<Verification> {
  const missing = f.plan.pieces.filter((p) => !f.isDone(p.index));
  if (f.remote.mode !== 'stream' && missing.length > 0) {
    throw new DownloadError('verification', `Chunks ${missing.slice(0, 10).map((p) => p.index).join(', ')} were never fetched.`);
  }
  if (f.remote.reprDigest !== null && f.wholeHash) {
    const actual = await f.wholeHash.finish(f.part, f.size);
    if (!sameDigest(actual, f.remote.reprDigest)) {
      throw new DownloadError('verification', `The downloaded file hashes to ${actual}, but the server's Repr-Digest is ${f.remote.reprDigest}.`);
    }
    return f.remote.manifest ? 'chunks' : 'repr-digest';
  }
  if (f.remote.manifest) return 'chunks';
  ctx.events.emit('warning', { message: 'the server offers no digest (Repr-Digest), so the file was not verified end-to-end' });
  return 'none';
}
