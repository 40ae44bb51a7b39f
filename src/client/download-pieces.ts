// Fetches the pieces not yet done, in parallel under the shared adaptive concurrency controller and
// retry policy: each one a single Range with If-Range, checked (digest, Content-Range, ETag), written
// at its offset, and only then counted and handed to the journal.
import { FerryError, parseContentRange } from '../protocol/index.js';
import { problemFrom } from './api.js';
import { emitProgress, type DownloadContext } from './download-context.js';
import { DownloadError } from './download-errors.js';
import { concatParts, Exchange } from './download-http.js';
import { sameDigest, type Piece } from './download-plan.js';
import type { Session } from './download-session.js';
import type { Hasher } from './io.js';
import { withRetry } from './retry-loop.js';
import { runPipeline } from './scheduler.js';

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
  await withRetry(
    async () => {
      // Hashed as the parts arrive, so hashing overlaps the network instead of following it.
      const hash = piece.digest !== null ? partsHasher(hasher) : null;
      let parts: Uint8Array[] = [];
      // The empty chunk of a 0-byte file: no range can name it (416); its digest is still checked.
      if (length > 0) {
        ctx.progress.sending(length);
        emitProgress(ctx);
        try {
          parts = await getRange(ctx, s, piece, signal, (part) => hash?.update(part));
        } finally {
          ctx.progress.sent(length);
        }
      }
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
      await s.part.write(piece.start, parts);
      s.wholeHash?.offer(piece.start, parts);
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

/** GET one range; anything but the exact range of the same representation is an error. */
async function getRange(ctx: DownloadContext, s: Session, piece: Piece, signal: AbortSignal, onPart: (part: Uint8Array) => void): Promise<Uint8Array[]> {
  const { remote } = s;
  const headers: Record<string, string> = { range: `bytes=${piece.start}-${piece.end - 1}` };
  if (s.validator !== null) headers['if-range'] = s.validator;
  const ex = await Exchange.open(ctx.http, 'GET', remote.url, headers, signal);
  try {
    const res = ex.response;
    if (res.status === 206) {
      const etag = res.headers.get('etag');
      if (etag !== null && remote.etag !== null && etag !== remote.etag) throw remoteChanged(`its ETag is now ${etag}`);
      const range = parseContentRange(res.headers.get('content-range'));
      if (!range || 'unsatisfied' in range) throw new DownloadError('protocol', `${ex.what}: 206 without a usable Content-Range.`);
      if (range.size !== undefined && range.size !== s.plan.size) throw remoteChanged(`it is now ${range.size} bytes`);
      if (range.start !== piece.start || range.end !== piece.end) {
        throw new DownloadError('protocol', `${ex.what}: asked for bytes ${piece.start}-${piece.end - 1}, got ${range.start}-${range.end - 1}.`);
      }
      return await ex.readExact(piece.end - piece.start, (part) => {
        ctx.stats.bytesFetched += part.byteLength;
        onPart(part);
      });
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

/** An incremental SHA-256 where the platform has one; else one digest of the joined parts. */
function partsHasher(hasher: Hasher): { update(part: Uint8Array): void; digest(parts: Uint8Array[]): Promise<string> } {
  const incremental = hasher.createHash?.('sha-256');
  if (incremental) return { update: (part) => incremental.update(part), digest: () => incremental.digest() };
  return { update: () => {}, digest: (parts) => hasher.digest(concatParts(parts), 'sha-256') };
}
