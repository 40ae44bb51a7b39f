// GET one range of a piece, pinned to the representation the download started with: If-Range with
// the validator, and anything but that exact range of the same file (another ETag, another size, a
// 200, a 412/416, a redirect to a place that does not show the pinned validators) is an error. Through the platform's RangeTransport when it has one (lent parts).
import { parseContentRange } from '../../protocol/index.js';
import { problemFrom } from '../engine/http-problem.js';
import type { DownloadContext } from './context.js';
import { DownloadError, remoteChanged } from './errors.js';
import { Exchange } from './http.js';
import { checkPinned } from './pinned.js';
import type { Piece } from './plan.js';
import type { Session } from './session.js';

/** What receives a range's body. */
export interface RangeReader {
  /** See RangeBody.read (direct requests only); undefined: no limit. */
  readonly lentLimit: number | undefined;
  /** Gets the function that gives back the (lent) parts onPart sees, before the first one arrives. */
  onOpen(release: (part: Uint8Array) => void): void;
  onPart(part: Uint8Array): void;
}

/** GETs the piece's bytes from `from` (an offset in the piece) to its end into `reader`. */
export async function getRange(ctx: DownloadContext, s: Session, piece: Piece, from: number, reader: RangeReader, signal: AbortSignal): Promise<void> {
  const { remote } = s;
  const first = piece.start + from;
  const headers: Record<string, string> = { range: `bytes=${first}-${piece.end - 1}` };
  if (s.validator !== null) headers['if-range'] = s.validator;
  const ex = await Exchange.open(ctx.http, 'GET', remote.url, headers, signal, true);
  reader.onOpen((part) => ex.release(part));
  try {
    const res = ex.response;
    if (res.status === 206) {
      checkPinned(ex, remote);
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
          reader.onPart(part);
        },
        { lentLimit: reader.lentLimit },
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
