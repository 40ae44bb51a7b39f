// One attempt at one piece: its range is received (range.ts), each part hashed and written at its
// offset as it arrives, then the writes are awaited and the digest checked. An attempt cut by the
// network leaves what it received (written, and fed to the hash) for the next one to continue from.
import { FerryError, MiB } from '../../protocol/index.js';
import type { Hasher } from '../engine/io.js';
import { classifyError, type Failure } from '../engine/retry.js';
import { emitProgress } from '../engine/transfer.js';
import type { DownloadContext } from './context.js';
import { DownloadError } from './errors.js';
import { concatParts } from './http.js';
import { PieceWriter } from './piece-writer.js';
import { sameDigest, type Piece } from './plan.js';
import { getRange, type RangeReader } from './range.js';
import type { Session } from './session.js';

/**
 * A range stops reading while this much of it is received but not yet written (direct transport):
 * a disk slower than the network then holds the connection back instead of filling memory.
 */
const maxUnwritten = 4 * MiB;

/** What an attempt cut by the network leaves to the next: its first `received` bytes, written and hashed. */
export interface Carried {
  received: number;
  hash: PartsHasher;
}

export class PieceAttempt implements RangeReader {
  /** Set by a failure the next attempt can continue after; null: the next one starts over. */
  leftover: Carried | null = null;
  readonly lentLimit: number | undefined;
  private readonly hash: PartsHasher | null;
  /** Where this attempt starts, as an offset in the piece. */
  private readonly from: number;
  /**
   * Parts kept until the attempt ends: for the whole-file hash, or a hasher that needs them all at
   * once. Otherwise a part goes back as soon as it is written (and hashed).
   */
  private readonly keep: boolean;
  private readonly writer: PieceWriter;
  private parts: Uint8Array[] = [];
  /** Parts not kept go back once written and once hashed: this holds those half way there. */
  private readonly halfDone: Set<Uint8Array> | null;
  private release: (part: Uint8Array) => void = () => {};
  private readonly done = (part: Uint8Array) => this.partDone(part);

  constructor(
    private readonly ctx: DownloadContext,
    private readonly s: Session,
    private readonly piece: Piece,
    carried: Carried | null,
    /** False for a part of a piece (tail.ts): its bytes go to the whole-file hash once the piece checks. */
    private readonly offerWhole = true,
  ) {
    // Hashed as the parts arrive, so hashing overlaps the network instead of following it.
    this.hash = carried?.hash ?? (piece.digest !== null ? partsHasher(ctx.o.io.hasher) : null);
    this.from = carried?.received ?? 0;
    this.keep = (offerWhole && s.wholeHash !== null) || (this.hash !== null && !this.hash.incremental);
    // Parts kept to the end cannot be given back before the body is in: no lent limit then.
    this.lentLimit = this.keep ? undefined : maxUnwritten;
    this.halfDone = this.hash !== null ? new Set() : null;
    // Written as they arrive (batched), so a piece's bytes are not all held until it ends: that kept
    // up to concurrency × chunk size alive and made the garbage collector do full collections.
    // Unverified bytes on disk are harmless: the piece only counts (journal) once its digest checks,
    // and any retry writes it again.
    this.writer = new PieceWriter(s.part, piece.start + this.from, this.keep ? null : this.done);
  }

  /** Receives the rest of the piece and checks it; throws what failed. */
  async run(signal: AbortSignal): Promise<void> {
    try {
      // The empty chunk of a 0-byte file: no range can name it (416); its digest is still checked.
      // Nor can the empty rest of a piece whose every byte came before its connection failed.
      if (this.from < this.length) await this.receive(signal);
      await this.check();
    } finally {
      for (const part of this.parts) this.release(part);
      this.parts = [];
    }
  }

  onOpen(release: (part: Uint8Array) => void): void {
    this.release = release;
  }

  onPart(part: Uint8Array): void {
    if (this.keep) {
      this.hash?.update(part);
      this.parts.push(part);
    } else this.hash?.update(part, this.done);
    this.writer.add(part);
  }

  private get length(): number {
    return this.piece.end - this.piece.start;
  }

  private async receive(signal: AbortSignal): Promise<void> {
    const bytes = this.length - this.from;
    this.ctx.progress.sending(bytes);
    emitProgress(this.ctx);
    // No stall watch (see stall-watch.ts) here: a download sees its bytes arrive, and its idle
    // watchdog (http.ts) cuts a connection that stops. Measured on the lossy WAN link, cutting ranges
    // that ran 3× longer than the last ones took fetched more twice and finished later (8.9 % and
    // 3.61 s against 3.3 % and 3.14 s, median of 3).
    try {
      await getRange(this.ctx, this.s, this.piece, this.from, this, signal);
    } catch (e) {
      await this.failed(e, signal);
      throw e;
    } finally {
      this.ctx.progress.sent(bytes);
    }
  }

  /** Keeps what the next attempt can build on, or lets every write of this one finish first. */
  private async failed(e: unknown, signal: AbortSignal): Promise<void> {
    // Continuing needs the hasher to carry the bytes already in; kept parts would need them too.
    if (!this.keep && this.hash !== null && continuable(e, signal)) {
      // Every byte the hasher saw must be on disk before the next attempt builds on it: write them
      // all, and continue only if every write of the piece so far succeeded.
      const end = await this.writer.drain();
      if (end !== null) this.leftover = { received: end - this.piece.start, hash: this.hash };
    } else {
      // No write of this attempt may land after the next attempt's (or after the `.part` closes).
      await this.writer.settle();
    }
  }

  /** Waits for the writes, checks the digest, and offers the bytes to the whole-file hash. */
  private async check(): Promise<void> {
    this.writer.flush();
    await this.writer.done();
    const { piece } = this;
    if (piece.digest !== null) {
      const actual = await this.hash!.digest(this.parts);
      if (!sameDigest(actual, piece.digest)) {
        // Classified 'corrupt' by the shared policy: fetched again at once, a few times at most.
        throw new FerryError('digest-mismatch', `Chunk ${piece.index} arrived as ${actual}, not ${piece.digest}.`, {
          expected: piece.digest,
          actual,
        });
      }
    }
    if (this.offerWhole) this.s.wholeHash?.offer(piece.start, this.parts);
  }

  /** A part not kept is given back on the second of "written" and "hashed" (a worker hashes later). */
  private partDone(part: Uint8Array): void {
    if (this.halfDone === null || this.halfDone.delete(part)) this.release(part);
    else this.halfDone.add(part);
  }
}

/**
 * Whether an attempt that failed with `e` may be continued where its bytes stopped: a failure of the
 * network (a cut, a short body, an idle timeout, no answer, a 5xx) that the retry policy retries.
 * Not a malformed answer ('protocol', e.g. a wrong Content-Range) nor anything it gives up on.
 */
function continuable(e: unknown, signal: AbortSignal): boolean {
  if (e instanceof DownloadError) return false;
  const { kind } = classifyError(e, signal);
  return kind === 'unreachable' || kind === 'transient';
}

export interface PartsHasher {
  incremental: boolean;
  update(part: Uint8Array, hashed?: (part: Uint8Array) => void): void;
  digest(parts: Uint8Array[]): Promise<string>;
}

/** An incremental SHA-256 where the platform has one; else one digest of the joined parts. */
function partsHasher(hasher: Hasher): PartsHasher {
  const incremental = hasher.createHash?.('sha-256');
  if (incremental) return { incremental: true, update: (part, hashed) => incremental.update(part, hashed), digest: () => incremental.digest() };
  return { incremental: false, update: (part, hashed) => hashed?.(part), digest: (parts) => hasher.digest(concatParts(parts), 'sha-256') };
}

/**
 * How the retry loop names an attempt at bytes [start, end) of `piece` and what a failure tells: the
 * controller judges it (see signalsLoad) and the progress shows it.
 */
export function rangeRetryHooks(ctx: DownloadContext, piece: Piece, start: number, end: number) {
  return {
    what: `chunk ${piece.index} (bytes ${start}-${end - 1})`,
    index: piece.index,
    onFailure: (f: Failure) => {
      ctx.controller.onFailure(ctx.o.io.clock.now(), f);
      emitProgress(ctx);
    },
  };
}
