// A finished file's manifest: its chunk list serialised once into stored parts, then served as those bytes.
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FerryError, MediaTypes, type FileInfo } from '../protocol/index.js';
import type { ChunkRecord, FileRecord, StoredManifest } from '../stores/types.js';
import type { ServerContext } from './context.js';

/**
 * Chunks per stored part: about 110 bytes each, so a part is ~110 KB, one cheap read. Building or
 * sending a manifest handles one part at a time, so no step grows with the file.
 */
export const ManifestPartChunks = 1000;

/** Builds running in this process, by server and file id: concurrent first requests share one. */
const building = new WeakMap<ServerContext, Map<string, Promise<StoredManifest>>>();

/**
 * The file's stored manifest; builds and stores it first if there is none yet (files from before it
 * existed). `chunks`: the file's chunk rows when the caller already holds them all (completion), so
 * they are not read again.
 */
export async function storedManifest(ctx: ServerContext, file: FileRecord, chunks?: readonly ChunkRecord[]): Promise<StoredManifest> {
  const stored = await ctx.meta.getManifest(file.id);
  if (stored) return stored;
  let runs = building.get(ctx);
  if (!runs) building.set(ctx, (runs = new Map()));
  let run = runs.get(file.id);
  if (!run) {
    const mine = runs;
    run = buildManifest(ctx, file, chunks).finally(() => mine.delete(file.id));
    runs.set(file.id, run);
  }
  return run;
}

/**
 * Serialises the chunk rows a page at a time into parts: the JSON of each chunk entry, joined by
 * commas (every part but the first starts with one), so the parts concatenated are the inside of
 * the `chunks` array. Deterministic, so two builders (two nodes) store the same bytes.
 */
async function buildManifest(ctx: ServerContext, file: FileRecord, known?: readonly ChunkRecord[]): Promise<StoredManifest> {
  const again = await ctx.meta.getManifest(file.id);
  if (again) return again;
  const gone = () => new FerryError('file-not-found', `No file ${file.id}.`);
  let parts = 0;
  let bytes = 0;
  for (let from = 0; ; ) {
    // A finished file has every chunk, in order, so a chunk's index is its position in `known`.
    const rows = known ? known.slice(from, from + ManifestPartChunks) : await ctx.meta.listChunks(file.uploadId, { from, limit: ManifestPartChunks });
    if (rows.length === 0) break;
    const entries = rows.map((c) => JSON.stringify({ index: c.index, offset: c.index * file.chunkSize, size: c.size, digest: c.digest }));
    const data = Buffer.from((parts === 0 ? '' : ',') + entries.join(','));
    if (!(await ctx.meta.putManifestPart(file.id, parts, data))) throw gone();
    parts++;
    bytes += data.length;
    if (rows.length < ManifestPartChunks) break;
    from = rows[rows.length - 1]!.index + 1;
    // Let other requests run between parts: a build costs many short turns, not one long one.
    await new Promise((resolve) => setImmediate(resolve));
  }
  const manifest = { parts, bytes };
  if (!(await ctx.meta.sealManifest(file.id, manifest))) throw gone();
  ctx.log.debug({ fileId: file.id, event: 'manifest-stored', ...manifest }, 'manifest stored');
  return manifest;
}

/**
 * Deleted meanwhile: before the answer started, a 404 problem; while it is sent, the body stops short
 * of its Content-Length, so the client knows.
 */
async function readPart(ctx: ServerContext, fileId: string, part: number): Promise<Uint8Array> {
  const data = await ctx.meta.getManifestPart(fileId, part);
  if (!data) throw new FerryError('file-not-found', `No file ${fileId}.`);
  return data;
}

/**
 * Bytes of recently asked-for manifests kept in memory per server (least recently used out first):
 * many clients fetching one popular manifest share one copy instead of each reading it from the store.
 * A manifest larger than a quarter of this is always streamed from the store.
 */
export const ManifestMemoryBytes = 16 * 1024 * 1024;

interface Remembered {
  files: Map<string, Uint8Array[]>;
  bytes: number;
  loading: Map<string, Promise<Uint8Array[]>>;
}
const remembered = new WeakMap<ServerContext, Remembered>();

/** The manifest's parts from memory (loaded once, shared by concurrent requests), or undefined when too large. */
async function rememberedParts(ctx: ServerContext, fileId: string, stored: StoredManifest): Promise<Uint8Array[] | undefined> {
  if (stored.bytes > ManifestMemoryBytes / 4) return undefined;
  let memory = remembered.get(ctx);
  if (!memory) remembered.set(ctx, (memory = { files: new Map(), bytes: 0, loading: new Map() }));
  const m = memory;
  const hit = m.files.get(fileId);
  if (hit) {
    m.files.delete(fileId);
    m.files.set(fileId, hit);
    return hit;
  }
  let load = m.loading.get(fileId);
  if (!load) {
    load = (async () => {
      const parts: Uint8Array[] = [];
      for (let part = 0; part < stored.parts; part++) parts.push(await readPart(ctx, fileId, part));
      m.files.set(fileId, parts);
      m.bytes += stored.bytes;
      for (const [oldId, oldParts] of m.files) {
        if (m.bytes <= ManifestMemoryBytes) break;
        m.files.delete(oldId);
        m.bytes -= oldParts.reduce((n, p) => n + p.length, 0);
      }
      return parts;
    })().finally(() => m.loading.delete(fileId));
    m.loading.set(fileId, load);
  }
  return load;
}

/**
 * Answers 200 with `head` (the file's info and etag) plus its stored chunk list: the same JSON as
 * JSON.stringify({...head, chunks}), written as the small head, then each stored part as it is read,
 * at the pace the client takes them.
 */
export async function sendManifest(
  ctx: ServerContext,
  res: ServerResponse,
  file: FileRecord,
  head: FileInfo & { etag: string },
  headers: Record<string, string>,
): Promise<void> {
  const stored = await storedManifest(ctx, file);
  const open = Buffer.from(`${JSON.stringify(head).slice(0, -1)},"chunks":[`);
  const close = Buffer.from(']}');
  // Read before the head goes out: a file deleted meanwhile is still a clean 404.
  const inMemory = await rememberedParts(ctx, file.id, stored);
  res.writeHead(200, {
    'content-type': MediaTypes.json,
    'content-length': String(open.length + stored.bytes + close.length),
    ...headers,
  });
  async function* body(): AsyncGenerator<Uint8Array> {
    yield open;
    if (inMemory) yield* inMemory;
    else for (let part = 0; part < stored.parts; part++) yield await readPart(ctx, file.id, part);
    yield close;
  }
  try {
    await pipeline(Readable.from(body(), { objectMode: false }), res);
  } catch (error) {
    // pipeline has destroyed the response: the client left, or the file went while it was sent.
    ctx.log.debug({ fileId: file.id, err: error }, 'manifest not sent whole');
  }
}
