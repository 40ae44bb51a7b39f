// The download engine behind a redirect (as release assets and CDNs answer): the validators and If-Range
// are the final resource's, the sidecar names where the redirect led, and a redirect that leads to
// other bytes between attempts is a changed remote (never two versions stitched together). The
// requests go through fetch, which follows redirects and reports the final URL in response.url.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseRange } from '../../src/protocol/index.js';
import { download, parseStateForTest, probe } from './engine.js';
import { tempDir } from './support.js';

const KiB = 1024;
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Resource {
  bytes: Buffer;
  /** Sent, and If-Range honoured, when set; a resource without one ignores If-Range (as some mirrors do). */
  etag: string | null;
}

/**
 * /file answers 302 to `target` (with an ETag of its own, which is not the file's); /v1/file, /v2/file,
 * /mirror/file serve `resources` with single ranges. Every request to a resource is recorded.
 */
async function redirectingServer(resources: Record<string, Resource>) {
  const seen: Array<{ path: string; method: string; headers: IncomingHttpHeaders }> = [];
  const state = { target: '/v1/file' };
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url!, 'http://x').pathname;
    if (path === '/file') return void res.writeHead(302, { location: state.target, etag: '"the-redirect"' }).end();
    const r = resources[path];
    if (!r) return void res.writeHead(404).end();
    seen.push({ path, method: req.method!, headers: req.headers });
    const headers: Record<string, string> = { 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' };
    if (r.etag) headers.etag = r.etag;
    const holds = r.etag === null || req.headers['if-range'] === undefined || req.headers['if-range'] === r.etag;
    const range = holds ? parseRange(req.headers.range, r.bytes.length) : { kind: 'none' as const };
    const [status, start, end] = range.kind === 'single' ? [206, range.start, range.end] : [200, 0, r.bytes.length];
    if (status === 206) headers['content-range'] = `bytes ${start}-${end - 1}/${r.bytes.length}`;
    res.writeHead(status, { ...headers, 'content-length': String(end - start) });
    res.end(req.method === 'HEAD' ? undefined : r.bytes.subarray(start, end));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise((resolve) => {
        server.close(resolve);
        server.closeAllConnections();
      }),
  );
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return { base, url: `${base}/file`, seen, state };
}

const size = 1024 * KiB;
const options = { fetch: globalThis.fetch, chunkSize: 64 * KiB, concurrency: 1 as const, retry: { baseDelayMs: 5, maxDelayMs: 20 } };

async function destination() {
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  return join(dir, 'out.bin');
}

describe('downloads behind a redirect', () => {
  it("pins the final resource's ETag (If-Range), records where the redirect led, and resumes through it", async () => {
    const v1 = randomBytes(size);
    const s = await redirectingServer({ '/v1/file': { bytes: v1, etag: '"v1"' } });
    const info = await probe(s.url, { fetch: globalThis.fetch });
    expect(info).toMatchObject({ url: s.url, finalUrl: `${s.base}/v1/file`, etag: '"v1"', size });

    const dest = await destination();
    const first = download(s.url, dest, options);
    first.on('progress', (p) => {
      if (p.chunksDone === 4) void first.abort();
    });
    await expect(first.result).rejects.toMatchObject({ reason: 'aborted' });
    const sidecar = parseStateForTest(await readFile(`${dest}.part.ferry`, 'utf8'));
    expect(sidecar).toMatchObject({ url: s.url, finalUrl: `${s.base}/v1/file`, etag: '"v1"' });

    const again = await download(s.url, dest, options).result;
    expect(again).toMatchObject({ resumed: true, etag: '"v1"' });
    expect((await readFile(dest)).equals(v1)).toBe(true);
    const ranges = s.seen.filter((r) => r.headers.range && r.headers.range !== 'bytes=0-0');
    expect(ranges.length).toBeGreaterThan(0);
    expect(ranges.every((r) => r.headers['if-range'] === '"v1"')).toBe(true);
  });

  it('a redirect that leads elsewhere between runs, to other validators, is a changed remote', async () => {
    const [v1, v2] = [randomBytes(size), randomBytes(size)];
    const s = await redirectingServer({ '/v1/file': { bytes: v1, etag: '"v1"' }, '/v2/file': { bytes: v2, etag: '"v2"' } });
    const dest = await destination();
    const first = download(s.url, dest, options);
    first.on('progress', (p) => {
      if (p.chunksDone === 4) void first.abort();
    });
    await expect(first.result).rejects.toMatchObject({ reason: 'aborted' });
    s.state.target = '/v2/file';
    const again = download(s.url, dest, options);
    const restarts: string[] = [];
    again.on('restart', (r) => restarts.push(r.reason));
    expect(await again.result).toMatchObject({ etag: '"v2"', resumed: false });
    expect(restarts).toEqual(['remote-changed']);
    expect((await readFile(dest)).equals(v2)).toBe(true);
  });

  it('a redirect that leads, mid-download, to a place that cannot show the pinned ETag starts over: never two versions in one file', async () => {
    const [v1, v2] = [randomBytes(size), randomBytes(size)];
    // The mirror has other bytes of the same size, sends no validators and ignores If-Range.
    const s = await redirectingServer({ '/v1/file': { bytes: v1, etag: '"v1"' }, '/mirror/file': { bytes: v2, etag: null } });
    const dest = await destination();
    const handle = download(s.url, dest, options);
    handle.on('progress', (p) => {
      if (p.chunksDone === 3) s.state.target = '/mirror/file';
    });
    const restarts: Array<{ reason: string; message: string }> = [];
    handle.on('restart', (r) => restarts.push(r));
    const result = await handle.result;
    expect(restarts).toEqual([{ reason: 'remote-changed', message: 'remote changed, starting over' }]);
    expect(result).toMatchObject({ restarts: 1, etag: null });
    expect((await readFile(dest)).equals(v2)).toBe(true);
  });
});
