// The download engine against servers found on the real web, each case one a review showed failing:
// a mirror switch when the server sends no validators (never two versions in one file), an object
// store's signed URL that refuses HEAD, a front whose `<url>/manifest` loops or leads nowhere, and
// credentials in the URL (never written into the sidecar). Real loopback servers; both the Node
// transport (the default of the Node entry) and fetch where fetch can make the request at all.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sidecarUrl } from '../../src/client/download/state.js';
import { parseRange } from '../../src/protocol/index.js';
import { closedPort } from '../helpers/ports.js';
import { selfSignedCert, type SelfSigned } from '../client/support/self-signed.js';
import { download, parseStateForTest, type DownloadHandle } from './engine.js';
import { tempDir } from './support.js';

const KiB = 1024;
const size = 1024 * KiB;
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const retry = { baseDelayMs: 5, maxDelayMs: 20 };
const transports = [
  ['the Node transport', {}],
  ['fetch', { fetch: globalThis.fetch }],
] as const;

async function listen(server: Server, host = '127.0.0.1'): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  cleanups.push(
    () =>
      new Promise((resolve) => {
        server.close(resolve);
        server.closeAllConnections();
      }),
  );
  return `${host}:${(server.address() as { port: number }).port}`;
}

async function serve(handler: RequestListener): Promise<string> {
  return `http://${await listen(createHttpServer(handler))}`;
}

/** Answers GET/HEAD with `bytes`: one range as 206, else the whole file; `headers` added to both. */
function sendBytes(req: IncomingMessage, res: ServerResponse, bytes: Buffer, headers: Record<string, string> = {}): void {
  const range = parseRange(req.headers.range, bytes.length);
  const h: Record<string, string> = { 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream', ...headers };
  const [status, start, end] = range.kind === 'single' ? [206, range.start, range.end] : [200, 0, bytes.length];
  if (status === 206) h['content-range'] = `bytes ${start}-${end - 1}/${bytes.length}`;
  res.writeHead(status, { ...h, 'content-length': String(end - start) });
  res.end(req.method === 'HEAD' ? undefined : bytes.subarray(start, end));
}

async function destination(): Promise<string> {
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  return join(dir, 'out.bin');
}

/** The handle's retry and restart events (what "at once" and "started over" are asserted on). */
function watch(handle: DownloadHandle) {
  const retries: unknown[] = [];
  const restarts: Array<{ reason: string; message: string }> = [];
  handle.on('retry', (e) => retries.push(e));
  handle.on('restart', (r) => restarts.push(r));
  return { retries, restarts };
}

const isRange = (req: IncomingMessage) => req.method === 'GET' && req.headers.range !== undefined && req.headers.range !== 'bytes=0-0';

describe('a redirect that leads elsewhere while neither place sends ETag nor Last-Modified', () => {
  for (const [name, transport] of transports) {
    it(`starts over instead of stitching two versions together (${name})`, async () => {
      const versions: Record<string, Buffer> = { '/v1/file': randomBytes(size), '/v2/file': randomBytes(size) };
      // /file leads to /v1/file until three ranges were served from there, then to /v2/file (a mirror
      // switch or a re-publish). The redirect target carries a query that changes on every request.
      let fromV1 = 0;
      let signed = 0;
      const base = await serve((req, res) => {
        const path = new URL(req.url!, 'http://x').pathname;
        if (path === '/file') return void res.writeHead(302, { location: `${fromV1 < 3 ? '/v1/file' : '/v2/file'}?sig=${++signed}` }).end();
        const bytes = versions[path];
        if (!bytes) return void res.writeHead(404).end();
        if (path === '/v1/file' && isRange(req)) fromV1++;
        sendBytes(req, res, bytes);
      });
      const dest = await destination();
      const handle = download(`${base}/file`, dest, { ...transport, chunkSize: 64 * KiB, concurrency: 1, retry });
      const { restarts } = watch(handle);
      const result = await handle.result;
      expect(restarts).toEqual([{ reason: 'remote-changed', message: 'remote changed, starting over' }]);
      expect(result).toMatchObject({ restarts: 1, etag: null, size });
      expect((await readFile(dest)).equals(versions['/v2/file']!)).toBe(true);
    });
  }

  it('a signed URL whose query changes on every request is still the same place: no restart', async () => {
    const bytes = randomBytes(size);
    let signed = 0;
    const base = await serve((req, res) => {
      const path = new URL(req.url!, 'http://x').pathname;
      if (path === '/file') return void res.writeHead(302, { location: `/bucket/file?X-Amz-Signature=${++signed}` }).end();
      if (path !== '/bucket/file') return void res.writeHead(404).end();
      sendBytes(req, res, bytes);
    });
    const dest = await destination();
    const handle = download(`${base}/file`, dest, { chunkSize: 64 * KiB, concurrency: 2, retry });
    const { restarts } = watch(handle);
    expect(await handle.result).toMatchObject({ restarts: 0, size });
    expect(restarts).toEqual([]);
    expect(signed).toBeGreaterThan(3);
    expect((await readFile(dest)).equals(bytes)).toBe(true);
  });
});

describe('an object store signed URL, which signs the method: HEAD is refused, GET is not', () => {
  /** /file redirects to a "bucket" that answers 403 to HEAD, and `get` to GET (the file when unset). */
  async function bucket(get?: (res: ServerResponse) => void) {
    const bytes = randomBytes(size);
    const seen: string[] = [];
    const base = await serve((req, res) => {
      const u = new URL(req.url!, 'http://x');
      seen.push(`${req.method} ${u.pathname}`);
      if (u.pathname === '/file') return void res.writeHead(302, { location: '/bucket/file?X-Amz-Signature=abc' }).end();
      if (u.pathname !== '/bucket/file') return void res.writeHead(404).end();
      const forbidden = '<?xml version="1.0"?><Error><Code>SignatureDoesNotMatch</Code></Error>';
      if (req.method === 'HEAD') return void res.writeHead(403, { 'content-type': 'application/xml' }).end();
      if (get) return get(res);
      if (u.searchParams.get('X-Amz-Signature') !== 'abc') return void res.writeHead(403, { 'content-type': 'application/xml' }).end(forbidden);
      sendBytes(req, res, bytes, { etag: '"s3-etag"' });
    });
    return { url: `${base}/file`, bytes, seen };
  }

  for (const [name, transport] of transports) {
    it(`asks for the first byte with GET and downloads the file (${name})`, async () => {
      const b = await bucket();
      const dest = await destination();
      const handle = download(b.url, dest, { ...transport, chunkSize: 64 * KiB, retry });
      const { retries } = watch(handle);
      expect(await handle.result).toMatchObject({ size, etag: '"s3-etag"' });
      expect(retries).toEqual([]);
      expect((await readFile(dest)).equals(b.bytes)).toBe(true);
      expect(b.seen).toContain('HEAD /bucket/file');
    });
  }

  it("when the GET is refused too, fails at once with the GET's own answer", async () => {
    const b = await bucket((res) => res.writeHead(401, { 'content-type': 'text/plain' }).end('expired'));
    const handle = download(b.url, await destination(), { retry });
    const { retries } = watch(handle);
    const error = await handle.result.then(() => null, (e: unknown) => e);
    expect(error).toMatchObject({ name: 'DownloadError', reason: 'fatal', problem: { status: 401 } });
    expect(retries).toEqual([]);
  });
});

describe('a `<url>/manifest` that cannot be fetched, where the URL itself can', () => {
  let cert: SelfSigned | null = null;
  beforeAll(async () => {
    cert = await selfSignedCert();
  });

  /** /file is served (with an ETag); /file/manifest is sent to `manifest` (a handler of its own). */
  async function origin(manifest: RequestListener) {
    const bytes = randomBytes(64 * KiB);
    const seen: string[] = [];
    const base = await serve((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      if (req.url === '/file') return sendBytes(req, res, bytes, { etag: '"e"' });
      manifest(req, res);
    });
    return { url: `${base}/file`, bytes, seen };
  }

  async function expectPlainDownload(url: string, bytes: Buffer, transport: object) {
    const dest = await destination();
    const handle = download(url, dest, { ...transport, retry });
    const { retries } = watch(handle);
    expect(await handle.result).toMatchObject({ size: bytes.length, etag: '"e"' });
    expect(retries).toEqual([]);
    expect((await readFile(dest)).equals(bytes)).toBe(true);
  }

  // fetch says "redirect count exceeded" in words only; the Node transport's code is ERR_TOO_MANY_REDIRECTS.
  for (const [name, transport] of transports) {
    it(`its redirects loop (a front that canonicalizes every path): a plain download (${name})`, async () => {
      const o = await origin((req, res) => res.writeHead(301, { location: req.url!.endsWith('/') ? req.url!.slice(0, -1) : `${req.url!}/` }).end());
      await expectPlainDownload(o.url, o.bytes, transport);
      expect(o.seen).toContain('HEAD /file');
    });
  }

  for (const [name, transport] of transports) {
    it(`it redirects to a port nothing listens on: a plain download (${name})`, async () => {
      const port = await closedPort();
      const o = await origin((_req, res) => res.writeHead(302, { location: `http://127.0.0.1:${port}/manifest` }).end());
      await expectPlainDownload(o.url, o.bytes, transport);
    });
  }

  it('it redirects to https whose certificate is refused: a plain download (both transports)', async (t) => {
    if (!cert) {
      if (process.env.CI === 'true') throw new Error('openssl is needed to make a self-signed certificate');
      return t.skip('no openssl to make a self-signed certificate');
    }
    const tls = await listen(createHttpsServer(cert, (_req, res) => res.end('{}')));
    const o = await origin((_req, res) => res.writeHead(302, { location: `https://${tls}/manifest` }).end());
    for (const [, transport] of transports) await expectPlainDownload(o.url, o.bytes, transport);
  });
});

describe('credentials in the URL stay out of the sidecar', () => {
  it('drops user, password and credential parameters, keeps the rest', () => {
    const url = 'http://alice:s3cret@h/f?v=7&X-Amz-Signature=1&x-amz-credential=2&X-Amz-Security-Token=3&X-Amz-Date=4&Signature=5&sig=6&token=7&access_token=8&grant=9&X-Goog-Signature=10';
    expect(sidecarUrl(url)).toBe('http://h/f?v=7');
    expect(sidecarUrl('http://h/f?a=1&b=2')).toBe('http://h/f?a=1&b=2');
  });

  it('the sidecar names the URL without them; the same command line, or a newly signed URL, resumes', async () => {
    const bytes = randomBytes(size);
    const auth = `Basic ${Buffer.from('alice:s3cret').toString('base64')}`;
    const base = await serve((req, res) => {
      if (req.headers.authorization !== auth) return void res.writeHead(401, { 'www-authenticate': 'Basic realm="x"' }).end();
      if (new URL(req.url!, 'http://x').pathname !== '/file') return void res.writeHead(404).end();
      sendBytes(req, res, bytes, { etag: '"v1"' });
    });
    const plain = `${base}/file?v=1`;
    const withCredentials = (signature: string) =>
      `${base.replace('http://', 'http://alice:s3cret@')}/file?v=1&X-Amz-Credential=AKIA-SECRET&X-Amz-Signature=${signature}&token=tok-SECRET`;
    const dest = await destination();
    const options = { chunkSize: 64 * KiB, concurrency: 1 as const, retry };
    /** Downloads `url` until `chunks` are done, then aborts; says whether it continued the `.part`. */
    const runUntil = async (url: string, chunks: number) => {
      const handle = download(url, dest, options);
      let resumed: boolean | null = null;
      handle.on('started', (e) => (resumed = e.resumed));
      handle.on('progress', (p) => {
        if (p.chunksDone >= chunks) void handle.abort();
      });
      await expect(handle.result).rejects.toMatchObject({ reason: 'aborted' });
      const text = await readFile(`${dest}.part.ferry`, 'utf8');
      expect(text).not.toMatch(/alice|s3cret|SECRET/);
      expect(parseStateForTest(text)).toMatchObject({ url: plain, etag: '"v1"' });
      return resumed;
    };

    expect(await runUntil(withCredentials('sig-SECRET-1'), 4)).toBe(false);
    // The same command line again continues, and so does a newly signed URL for the same file.
    expect(await runUntil(withCredentials('sig-SECRET-1'), 8)).toBe(true);
    const last = download(withCredentials('sig-SECRET-2'), dest, options);
    const { restarts } = watch(last);
    expect(await last.result).toMatchObject({ resumed: true, size });
    expect(restarts).toEqual([]);
    expect((await readFile(dest)).equals(bytes)).toBe(true);
  });
});
