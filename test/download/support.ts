// Helpers for download tests: files stored on a real Ferry server, a plain static HTTP server (no
// manifest; ETag from mtime+size, single ranges, If-Range), temp dirs, the server's metrics.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseRange } from '../../src/protocol/index.js';
import { sha256Field } from '../helpers/digest.js';
import { create, sendChunks } from '../helpers/http.js';
import type { TestServer } from '../helpers/server.js';

export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-download-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Stores `data` on a Ferry server with raw protocol calls; returns the file's URL. */
export async function storeFile(
  serverUrl: string,
  data: Buffer,
  options: { chunkSize: number; name?: string; fileDigest?: boolean },
): Promise<{ fileId: string; fileUrl: string }> {
  const { chunkSize } = options;
  const created = await create(serverUrl, {
    name: options.name ?? 'payload.bin',
    size: data.length,
    chunkSize,
    ...(options.fileDigest ? { fileDigest: sha256Field(data) } : {}),
  });
  if (created.status !== 201) throw new Error(`create: ${created.status} ${created.text}`);
  const total = Math.max(1, Math.ceil(data.length / chunkSize));
  const replies = await sendChunks(serverUrl, created.body.uploadId, data, chunkSize, [...Array(total).keys()], 4);
  const done = replies.find((r) => r.body.complete);
  if (!done) throw new Error(`upload did not complete: ${replies.map((r) => r.status).join(',')}`);
  return { fileId: done.body.fileId, fileUrl: `${serverUrl}/files/${done.body.fileId}` };
}

/** The server's ferry_file_bytes_served_total (body bytes of /files responses, partial ones included). */
export function bytesServed(server: TestServer): number {
  return server.ctx.metrics.get('ferry_file_bytes_served_total');
}

export interface StaticServer {
  url: string;
  /** Body bytes written to clients (ranges and whole files). */
  bytesServed: number;
  /** Range requests answered 200 because If-Range no longer held. */
  ifRangeFailures: number;
  /** Range requests that came without If-Range (a client that could stitch two versions). */
  unconditionalRanges: number;
  close(): Promise<void>;
}

export interface StaticOptions {
  /** Accept-Ranges: bytes and 206 answers (default true). */
  ranges?: boolean;
  /** Send Repr-Digest: sha-256 of the file (default false). */
  reprDigest?: boolean;
  /** Sent as Content-Disposition when set. */
  contentDisposition?: string;
}

/**
 * A plain HTTP file server like nginx's: GET/HEAD of files in `root`, strong ETag from size+mtime,
 * Last-Modified, one range (206/416), If-Range. No manifest (404), so the client must use plain HTTP.
 */
export async function startStaticServer(root: string, options: StaticOptions = {}): Promise<StaticServer> {
  const ranges = options.ranges ?? true;
  const state = { bytesServed: 0, ifRangeFailures: 0, unconditionalRanges: 0 };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const path = join(root, basename(decodeURIComponent(new URL(req.url!, 'http://x').pathname)));
      const st = await stat(path).catch(() => null);
      if (!st || !st.isFile()) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      const etag = `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
      const lastModified = st.mtime.toUTCString();
      const headers: Record<string, string> = { etag, 'last-modified': lastModified, 'content-type': 'application/octet-stream' };
      if (ranges) headers['accept-ranges'] = 'bytes';
      if (options.reprDigest) headers['repr-digest'] = `sha-256=:${createHash('sha256').update(await readFile(path)).digest('base64')}:`;
      if (options.contentDisposition) headers['content-disposition'] = options.contentDisposition;
      const ifRange = req.headers['if-range'];
      const holds = ifRange === undefined || ifRange === etag || ifRange === lastModified;
      if (ifRange !== undefined && !holds && req.headers.range) state.ifRangeFailures++;
      if (ifRange === undefined && req.headers.range && req.method === 'GET' && req.headers.range !== 'bytes=0-0') state.unconditionalRanges++;
      const range = ranges && holds ? parseRange(req.headers.range, st.size) : { kind: 'none' as const };
      if (range.kind === 'unsatisfiable') return void res.writeHead(416, { ...headers, 'content-range': `bytes */${st.size}` }).end();
      const [status, start, end] = range.kind === 'single' ? [206, range.start, range.end] : [200, 0, st.size];
      if (status === 206) headers['content-range'] = `bytes ${start}-${end - 1}/${st.size}`;
      res.writeHead(status, { ...headers, 'content-length': String(end - start) });
      if (req.method === 'HEAD' || end === start) return void res.end();
      const stream = createReadStream(path, { start, end: end - 1 });
      stream.on('data', (c) => (state.bytesServed += c.length));
      stream.on('error', () => res.destroy());
      res.on('close', () => stream.destroy());
      stream.pipe(res);
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    get bytesServed() {
      return state.bytesServed;
    },
    get ifRangeFailures() {
      return state.ifRangeFailures;
    },
    get unconditionalRanges() {
      return state.unconditionalRanges;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Replaces a file atomically with new content and a distinct mtime (so its ETag surely changes). */
export async function replaceFile(path: string, data: Buffer): Promise<void> {
  const tmp = `${path}.new`;
  await writeFile(tmp, data);
  const later = new Date(Date.now() + 60_000);
  await utimes(tmp, later, later);
  await rename(tmp, path);
}
