// Fetches the pieces not yet done, in parallel under the shared adaptive concurrency controller and
// retry policy: each one a single Range with If-Range, checked (digest, Content-Range, ETag), written
// at its offset, and only then counted and handed to the journal. The ranges go through the
// platform's RangeTransport when there is one; its parts are lent and given back once written.
// A range cut by the network is continued from its first missing byte, not fetched again whole.
import { FerryError, KiB, MiB, parseContentRange } from '../protocol/index.js';
import { problemFrom } from './api.js';
import { emitProgress, type DownloadContext } from './download-context.js';
import { DownloadError } from './download-errors.js';
import { concatParts, Exchange } from './download-http.js';
import { sameDigest, type Piece } from './download-plan.js';
import type { Session } from './download-session.js';
import type { Hasher } from './io.js';
import { classifyError } from './retry.js';
import { withRetry } from './retry-loop.js';
import { runPipeline } from './scheduler.js';

/**
 * Writes are batched to this size: one system call per network read would be ~16 per MiB. Not 1 MiB:
 * on the 2-core benchmark VM, 1 GiB written in 1 MiB pwritevs took 1–2 s of system time in some runs
 * (the kernel finding room for 1 MiB page-cache folios) instead of the usual 0.35 s; in 256 KiB
 * writes it never did (`node bench/probes/page-cache-write.mjs /tmp 4 256` against `... 1024`).
 */
const writeBatch = 256 * KiB;

/**
 * A range stops reading while this much of it is received but not yet written (direct transport):
 * a disk slower than the network then holds the connection back instead of filling memory.
 */
const maxUnwritten = 4 * MiB;

export async function fetchPieces(ctx: DownloadContext, s: Session): Promise<void> {
  const pending = s.plan.pieces.filter((p) => !s.journal.has(p.index));
  ctx.progress.setPhase(ctx.gate.paused ? 'paused' : 'transferring');
  ctx.controller.begin(ctx.o.io.clock.now());
  await runPipeline<Piece, Piece>({
    items: pending,
    // Nothing to prepare ahead: a piece's bytes are read from the network, not from a source.
    prepare: async (piece) => piece,
    execute: (piece, signal) => fetchPiece(ctx, s, piece, signal),
    limit: () => ctx.controller.limit,
    readAhead: 0,
    gate: ctx.gate,
    signal: ctx.signal,
    onActive: (executing) => {
      ctx.progress.setConcurrency(ctx.controller.limit, executing);
      emitProgress(ctx);
    },
  });
}

async function fetchPiece(ctx: DownloadContext, s: Session, piece: Piece, signal: AbortSignal): Promise<void> {
  const { clock, hasher } = ctx.o.io;
  const length = piece.end - piece.start;
  // What an attempt cut by the network leaves to the next one: its first `received` bytes are written
  // at their offsets and fed to `hash`, so the next one asks for the rest only (under the chaos suite's
  // cuts, fetching the whole piece again re-fetched 2/3 of the file). Null: start from the piece start.
  let carried: { received: number; hash: PartsHasher } | null = null;
  await withRetry(
    async () => {
      // Hashed as the parts arrive, so hashing overlaps the network instead of following it.
      const hash = carried?.hash ?? (piece.digest !== null ? partsHasher(hasher) : null);
      const from = carried?.received ?? 0;
      // Set again only by a failure this attempt can be continued after: any other (a digest mismatch,
      // a wrong Content-Range, a failed write) makes the next attempt start over with a fresh hasher.
      carried = null;
      // Written as they arrive too (batched), so a piece's bytes are not all held until it ends: that
      // kept up to concurrency × chunk size alive and made the garbage collector do full collections.
      // Unverified bytes on disk are harmless: the piece only counts (journal) once its digest checks,
      // and any retry writes it again. The parts are kept only for whoever still needs them.
      const keep = s.wholeHash !== null || (hash !== null && !hash.incremental);
      // Continuing needs the hasher to carry the bytes already in; kept parts would need them too.
      const resumable = !keep && hash !== null;
      // Lent parts go back once written, or, when kept, once this attempt is over.
      let release: (part: Uint8Array) => void = () => {};
      // Not kept, a part goes back once written and once hashed: a hash on a worker thread reads it
      // later (IncrementalHash.update), so the second of the two gives it back.
      const halfDone = hash !== null ? new Set<Uint8Array>() : null;
      const done = (part: Uint8Array) => {
        if (halfDone === null || halfDone.delete(part)) release(part);
        else halfDone.add(part);
      };
      const writer = new PieceWriter(s, piece.start + from, keep ? null : done);
      let parts: Uint8Array[] = [];
      try {
        // The empty chunk of a 0-byte file: no range can name it (416); its digest is still checked.
        // Nor can the empty rest of a piece whose every byte came before its connection failed.
        if (from < length) {
          ctx.progress.sending(length - from);
          emitProgress(ctx);
          try {
            // Parts kept to the end cannot be given back before the body is in: no lent limit then.
            const lentLimit = keep ? undefined : maxUnwritten;
            await getRange(ctx, s, piece, from, signal, lentLimit, (r) => (release = r), (part) => {
              if (keep) {
                hash?.update(part);
                parts.push(part);
              } else hash?.update(part, done);
              writer.add(part);
            });
          } catch (e) {
            if (resumable && continuable(e, signal)) {
              // Every byte the hasher saw must be on disk before the next attempt builds on it: write
              // them all, and continue only if every write of the piece so far succeeded.
              const end = await writer.drain();
              if (end !== null) carried = { received: end - piece.start, hash };
            } else {
              // No write of this attempt may land after the next attempt's (or after the `.part` closes).
              await writer.settle();
            }
            throw e;
          } finally {
            ctx.progress.sent(length - from);
          }
        }
        writer.flush();
        await writer.done();
        if (piece.digest !== null) {
          const actual = await hash!.digest(parts);
          if (!sameDigest(actual, piece.digest)) {
            // Classified 'corrupt' by the shared policy: fetched again at once, a few times at most.
            throw new FerryError('digest-mismatch', `Chunk ${piece.index} arrived as ${actual}, not ${piece.digest}.`, {
              expected: piece.digest,
              actual,
            });
          }
        }
        s.wholeHash?.offer(piece.start, parts);
      } finally {
        for (const part of parts) release(part);
        parts = [];
      }
      s.journal.markDone(piece.index);
      const now = clock.now();
      ctx.controller.onSuccess(length, now);
      ctx.progress.chunkDone(piece.index, length, now, true);
      emitProgress(ctx);
    },
    ctx.retry,
    {
      what: `chunk ${piece.index} (bytes ${piece.start}-${piece.end - 1})`,
      index: piece.index,
      onFailure: (f) => {
        if (f.kind !== 'busy') ctx.controller.onFailure(clock.now());
        emitProgress(ctx);
      },
    },
    signal,
  );
}

/**
 * Bytes written at their offsets as they arrive, about `writeBatch` at a time, one write after another.
 * `written` (when given) receives every part once its write is over (or skipped after a failure).
 */
class PieceWriter {
  private batch: Uint8Array[] = [];
  private batched = 0;
  private tail: Promise<void> = Promise.resolve();
  private error: unknown = null;
  private failed = false;

  constructor(
    private readonly s: Session,
    private offset: number,
    private readonly written: ((part: Uint8Array) => void) | null,
  ) {}

  add(part: Uint8Array): void {
    this.batch.push(part);
    this.batched += part.byteLength;
    if (this.batched >= writeBatch) this.flush();
  }

  flush(): void {
    if (this.batched === 0) return;
    const { batch, offset } = this;
    this.offset += this.batched;
    this.batch = [];
    this.batched = 0;
    this.tail = this.tail.then(async () => {
      try {
        if (!this.failed) await this.s.part.write(offset, batch);
      } catch (e) {
        this.failed = true;
        this.error = e;
      } finally {
        if (this.written) for (const part of batch) this.written(part);
      }
    });
  }

  /**
   * Writes what is batched too and resolves once every write is over: where the written bytes end,
   * or null if a write failed (then some byte handed to the writer may not be on disk).
   */
  async drain(): Promise<number | null> {
    this.flush();
    await this.tail;
    return this.failed ? null : this.offset;
  }

  /** Resolves once every flushed batch is written or failed (errors ignored: the attempt failed anyway). */
  async settle(): Promise<void> {
    this.failed = true;
    if (this.written) for (const part of this.batch) this.written(part);
    this.batch = [];
    this.batched = 0;
    await this.tail;
  }

  /** Resolves once every flushed batch is written; throws the first write error. */
  async done(): Promise<void> {
    await this.tail;
    if (this.failed) throw this.error;
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

/**
 * GET the piece's bytes from `from` (its offset) on; anything but that exact range of the same
 * representation is an error. `onOpen` gets the function that gives back the (lent) parts `onPart`
 * sees, before the first one arrives.
 */
async function getRange(
  ctx: DownloadContext,
  s: Session,
  piece: Piece,
  from: number,
  signal: AbortSignal,
  lentLimit: number | undefined,
  onOpen: (release: (part: Uint8Array) => void) => void,
  onPart: (part: Uint8Array) => void,
): Promise<void> {
  const { remote } = s;
  const first = piece.start + from;
  const headers: Record<string, string> = { range: `bytes=${first}-${piece.end - 1}` };
  if (s.validator !== null) headers['if-range'] = s.validator;
  const ex = await Exchange.open(ctx.http, 'GET', remote.url, headers, signal, true);
  onOpen((part) => ex.release(part));
  try {
    const res = ex.response;
    if (res.status === 206) {
      const etag = res.headers.get('etag');
      if (etag !== null && remote.etag !== null && etag !== remote.etag) throw remoteChanged(`its ETag is now ${etag}`);
      const range = parseContentRange(res.headers.get('content-range'));
      if (!range || 'unsatisfied' in range) throw new DownloadError('protocol', `${ex.what}: 206 without a usable Content-Range.`);
      if (range.size !== undefined && range.size !== s.plan.size) throw remoteChanged(`it is now ${range.size} bytes`);
      if (range.start !== first || range.end !== piece.end) {
        throw new DownloadError('protocol', `${ex.what}: asked for bytes ${first}-${piece.end - 1}, got ${range.start}-${range.end - 1}.`);
      }
      await ex.readExact(
        piece.end - first,
        (part) => {
          ctx.stats.bytesFetched += part.byteLength;
          onPart(part);
        },
        { lentLimit },
      );
      return;
    }
    // 200 to a range with If-Range: the validator no longer names the file. Never stitch two versions.
    if (res.status === 200) throw remoteChanged(s.validator ? 'the server answered a conditional range with the whole file' : 'the server stopped honouring ranges');
    if (res.status === 412 || res.status === 416) throw remoteChanged(`the server answered ${res.status} to a range inside the file`);
    throw problemFrom(res, await ex.text());
  } finally {
    ex.close();
  }
}

function remoteChanged(why: string): DownloadError {
  return new DownloadError('remote-changed', `The remote file changed during the download (${why}).`);
}

interface PartsHasher {
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
