// GET /files (the caller's files, a page at a time), GET/HEAD /files/{id} (bytes, with ranges) and
// GET /files/{id}/manifest.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { FerryError, formatContentRange, Headers, MediaTypes, parseRange } from '../../protocol/index.js';
import type { BufferLender, FileRecord } from '../../stores/types.js';
import { requireFileRead, requireList } from '../auth/policy.js';
import type { Principal } from '../auth/principal.js';
import { ifRangeHolds, notModified } from '../conditional.js';
import { contentDisposition } from '../content-disposition.js';
import type { ServerContext } from '../context.js';
import { baseUrl, requestTarget, sendJson } from '../http.js';
import { sendManifest } from '../manifest.js';
import { downloadLimits } from '../limits/downloads.js';
import { rateKey } from '../limits/limit-key.js';
import { PieceSizer } from '../limits/piece-size.js';
import { limitHit } from '../metrics.js';
import { fileInfo } from '../representation.js';

export const DefaultPageSize = 50;
export const MaxPageSize = 1000;

/** ?limit=&cursor= (and ?owner= for admins): newest first; nextCursor is null on the last page. */
export async function listFiles(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, _params: unknown, who: Principal): Promise<void> {
  requireList(who);
  const { query } = requestTarget(req.url ?? '/');
  const limit = pageSize(query.get('limit'));
  const after = query.has('cursor') ? decodeCursor(query.get('cursor')!) : undefined;
  const ownerParam = query.get('owner') ?? undefined;
  if (ownerParam !== undefined && ownerParam !== who.identity && who.role !== 'admin') {
    throw new FerryError('forbidden', "Only an admin may list another identity's files.");
  }
  // Admins see everything unless they filter; everyone else sees their own.
  const owner = who.role === 'admin' ? ownerParam : who.identity;
  const base = baseUrl(req, ctx);
  const files = await ctx.meta.listFiles({ limit: limit + 1, owner, after });
  const page = files.slice(0, limit);
  const last = page[page.length - 1];
  const nextCursor = files.length > limit && last ? encodeCursor(last) : null;
  sendJson(res, 200, { files: page.map((f) => fileInfo(f, base)), nextCursor });
}

function pageSize(text: string | null): number {
  if (text === null) return DefaultPageSize;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > MaxPageSize) throw new FerryError('malformed-request', `limit must be an integer from 1 to ${MaxPageSize}.`);
  return n;
}

function encodeCursor(file: FileRecord): string {
  return Buffer.from(JSON.stringify([file.createdAt, file.id])).toString('base64url');
}

function decodeCursor(text: string): { createdAt: number; id: string } {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown[];
    if (typeof createdAt === 'number' && typeof id === 'string') return { createdAt, id };
  } catch {
    // fall through
  }
  throw new FerryError('malformed-request', 'The cursor is not one this server handed out.');
}

/** The file, when `who` may read it; file-not-found otherwise (whether or not it exists). */
export async function loadFile(ctx: ServerContext, fileId: string, who: Principal): Promise<FileRecord> {
  const file = await ctx.meta.getFile(fileId);
  if (!file) throw new FerryError('file-not-found', `No file ${fileId}.`);
  requireFileRead(who, file);
  return file;
}

/**
 * The file's info and chunk list: the chunk list is serialised once (at completion, or at the first
 * request for an older file) and served from the stored bytes; If-None-Match answers 304 before any of it.
 */
export async function getManifest(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, params: { fileId: string }, who: Principal): Promise<void> {
  const file = await loadFile(ctx, params.fileId, who);
  const headers = { etag: file.etag, 'cache-control': 'private, max-age=31536000, immutable' };
  if (notModified(req, { etag: file.etag, lastModified: file.createdAt })) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  const head = { ...fileInfo(file, baseUrl(req, ctx)), etag: file.etag };
  await sendManifest(ctx, res, file, head, headers);
}

export async function getFile(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, params: { fileId: string }, who: Principal): Promise<void> {
  const file = await loadFile(ctx, params.fileId, who);
  const validators = { etag: file.etag, lastModified: file.createdAt };
  const headers: Record<string, string> = {
    'accept-ranges': 'bytes',
    etag: file.etag,
    'last-modified': new Date(file.createdAt).toUTCString(),
    // A file id always names the same bytes; it is a capability, so keep it out of shared caches.
    'cache-control': 'private, max-age=31536000, immutable',
    'content-disposition': contentDisposition(file.name),
    'x-content-type-options': 'nosniff',
  };
  if (file.fileDigest) headers[Headers.reprDigest] = file.fileDigest;

  if (notModified(req, validators)) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  const range = ifRangeHolds(req, validators) ? parseRange(req.headers.range, file.size) : { kind: 'none' as const };
  if (range.kind === 'unsatisfiable') {
    // Answered by the shared problem path (request id, no-store), with the file's validators and its size.
    for (const name of ['etag', 'last-modified', 'accept-ranges']) res.setHeader(name, headers[name]!);
    res.setHeader('content-range', `bytes */${file.size}`);
    throw new FerryError('range-not-satisfiable', `The file is ${file.size} bytes.`, { size: file.size });
  }
  const [status, start, end] = range.kind === 'single' ? [206, range.start, range.end] : [200, 0, file.size];
  if (status === 206) headers['content-range'] = formatContentRange(start, end, file.size);
  if (req.method === 'HEAD' || end === start) {
    res.writeHead(status, { ...headers, 'content-type': MediaTypes.octets, 'content-length': String(end - start) });
    res.end();
    return;
  }
  // Every open download pins a connection, a file handle and response buffers: a few per identity
  // (counted as requests are: per address in open mode, and per address for a grant's holders).
  const { slots } = downloadLimits(ctx);
  const free = slots.take(rateKey(who, req, ctx.config.trustProxy));
  if (!free) {
    limitHit(ctx, 'downloads');
    throw new FerryError('too-many-downloads', `At most ${slots.perKey} downloads at once; retry when one has finished.`, {
      limit: slots.perKey,
      retryAfter: 1,
    });
  }
  try {
    res.writeHead(status, { ...headers, 'content-type': MediaTypes.octets, 'content-length': String(end - start) });
    await streamBytes(ctx, file, start, end, res);
  } finally {
    free();
  }
}

/**
 * Streams [start, end) of a file into the response, one piece at a time: each piece is read into a
 * buffer borrowed from the server's response-buffer budget, and the next only once the socket has taken
 * the last (the buffer then goes back), so the memory of all downloads together is bounded, and a slow
 * reader, given small pieces, pins little of it. Stops reading if the client leaves; a read error cuts
 * the response short, so the client sees an incomplete body, never a wrong one.
 */
async function streamBytes(ctx: ServerContext, file: FileRecord, start: number, end: number, res: ServerResponse): Promise<void> {
  const abort = new AbortController();
  const onClose = () => abort.abort();
  res.once('close', onClose);
  const { buffers: budget, slots } = downloadLimits(ctx);
  const sizer = new PieceSizer(budget.minBytes, budget.maxBytes);
  const buffers: BufferLender = {
    // No more than a fair share of the budget: a client that read fast and then stopped pins its last piece.
    borrow: (want, signal) => budget.borrow(Math.min(want, sizer.size, budget.budget / Math.max(1, slots.total())), signal),
    giveBack: (buffer) => budget.giveBack(buffer),
  };
  let sent = 0;
  try {
    for await (const part of ctx.blobs.read(file.blobRef, start, end, { signal: abort.signal, buffers })) {
      sent += part.length;
      const writing = performance.now();
      await written(res, part, abort.signal);
      sizer.took(part.length, performance.now() - writing);
    }
    res.end();
  } catch (error) {
    if (abort.signal.aborted) return;
    res.destroy(error instanceof Error ? error : new Error(String(error)));
    throw error;
  } finally {
    res.off('close', onClose);
    ctx.metrics.inc('ferry_file_bytes_served_total', sent);
  }
}

/** Resolves once the socket has taken all of `part` (so its memory may be reused); rejects on abort. */
function written(res: ServerResponse, part: Uint8Array, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    res.write(part, (error) => {
      signal.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve();
    });
  });
}
