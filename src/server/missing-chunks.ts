// The `missing` text of an upload's status, from the store's gap ranges: costs the gaps, not the chunks.
import { formatRangeList } from '../protocol/index.js';
import type { UploadRecord } from '../stores/types.js';
import type { ServerContext } from './context.js';

/** Gap ranges read per store call (well under a millisecond); other requests run between calls. */
export const MissingPageSize = 1000;

/** Uploads whose missing text is remembered, per server; the oldest is forgotten first. */
export const MissingCacheEntries = 64;

/**
 * While an upload is uploading its chunks are only ever added, one per count, so its chunksReceived
 * names its set of chunks: the text made for a count is right for every later read with that count
 * (on any node). A client polling an unchanged upload costs one row read, not its gaps again.
 */
const cached = new WeakMap<ServerContext, Map<string, { chunksReceived: number; missing: string }>>();

/** The chunk indexes `upload` still needs, as "0-3,7" ('' unless it is uploading). */
export async function missingChunks(ctx: ServerContext, upload: UploadRecord): Promise<string> {
  if (upload.state !== 'uploading') return '';
  let cache = cached.get(ctx);
  if (!cache) cached.set(ctx, (cache = new Map()));
  const hit = cache.get(upload.id);
  if (hit && hit.chunksReceived === upload.chunksReceived) return hit.missing;

  const pieces: string[] = [];
  for (let after = -1; ; ) {
    const page = await ctx.meta.listMissing(upload.id, after, MissingPageSize);
    if (page.length > 0) pieces.push(formatRangeList(page));
    if (page.length < MissingPageSize) break;
    // Past the whole last gap: one a chunk shrank meanwhile ([a+1..b]) must not come back on the next page.
    after = page[page.length - 1]!.last;
    await new Promise((resolve) => setImmediate(resolve));
  }
  const missing = pieces.join(',');
  // The gaps may be newer than `upload` (a chunk recorded since it was read): fewer gaps, never wrong ones.
  cache.delete(upload.id);
  cache.set(upload.id, { chunksReceived: upload.chunksReceived, missing });
  if (cache.size > MissingCacheEntries) cache.delete(cache.keys().next().value!);
  return missing;
}
