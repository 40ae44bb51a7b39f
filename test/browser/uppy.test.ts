// Uppy — @uppy/core, @uppy/dashboard and @uppy/tus, as an app would bundle them (esbuild) — in the
// real Chromium of the page tests, on a page of another origin than Ferry (so CORS is real), uploads
// two files to Ferry's tus endpoint; the page reloads midway, the same files are chosen again, and
// Uppy resumes both uploads where the server stands (from the upload URLs @uppy/tus keeps in
// localStorage), instead of starting over. Both files then download from Ferry byte for byte.
import { rm } from 'node:fs/promises';
import type { Browser, Page, Request } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { call } from '../helpers/http.js';
import { MiB, startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { launchChromium, skipBrowser } from './support/chromium.js';
import { fetchDigest, makeFile, type TestFile } from './support/files.js';
import { closePages, gotoReady, openPage, screenshot } from './support/page.js';
import { startUppySite, type UppySite } from './uppy/site.js';

/** Stream uploads are cut into chunks of this size: both files end in a partial chunk. */
const chunkSize = 4 * MiB;

interface TusRequest {
  method: string;
  url: string;
  offset: number | null;
}

// What the browser asks before a tus client's requests, and may read after them (no browser needed).
describe('CORS for tus and IETF resumable-upload clients', () => {
  const origin = 'https://app.example';
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ corsOrigins: [origin] });
  });
  afterAll(() => srv?.dispose());

  const list = (v: string | string[] | undefined) => String(v ?? '').split(/\s*,\s*/).map((h) => h.toLowerCase());

  it('preflights of tus and IETF requests allow their methods and headers; their response headers are exposed', async () => {
    const asked = {
      POST: ['tus-resumable', 'upload-length', 'upload-metadata', 'upload-defer-length', 'upload-concat', 'authorization', 'content-type'],
      PATCH: ['tus-resumable', 'upload-offset', 'upload-checksum', 'upload-length', 'content-type', 'upload-complete', 'upload-incomplete', 'upload-draft-interop-version'],
      HEAD: ['tus-resumable', 'upload-draft-interop-version', 'x-requested-with'],
      DELETE: ['tus-resumable', 'x-http-method-override'],
    };
    for (const [method, headers] of Object.entries(asked)) {
      const pre = await call(srv.url, 'OPTIONS', '/tus/some-upload', {
        headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': headers.join(',') },
      });
      expect(pre.status, method).toBe(204);
      expect(pre.headers['access-control-allow-origin']).toBe(origin);
      expect(list(pre.headers['access-control-allow-methods'])).toContain(method.toLowerCase());
      expect(list(pre.headers['access-control-allow-headers'])).toEqual(expect.arrayContaining(headers));
    }
    const r = await call(srv.url, 'GET', '/files', { headers: { origin } });
    expect(list(r.headers['access-control-expose-headers'])).toEqual(
      expect.arrayContaining([
        'location',
        'tus-resumable',
        'tus-version',
        'tus-extension',
        'tus-max-size',
        'tus-checksum-algorithm',
        'upload-offset',
        'upload-length',
        'upload-metadata',
        'upload-defer-length',
        'upload-concat',
        'upload-expires',
        'upload-complete',
        'upload-limit',
        'upload-draft-interop-version',
        // Ferry's own stay exposed.
        'ferry-upload-state',
        'repr-digest',
      ]),
    );
  });
});

describe.skipIf(skipBrowser)('Uppy (@uppy/tus + Dashboard) in Chromium, cross-origin', () => {
  let browser: Browser;
  let site: UppySite;
  let ferry: TestServer;
  /** Between the page and Ferry: throttled while the upload must be caught midway. */
  let proxy: FaultProxy;
  let dir: string;

  beforeAll(async () => {
    site = await startUppySite();
    ferry = await startTestServer({ corsOrigins: [site.origin], defaultChunkSize: chunkSize, fsync: false });
    [browser, proxy, dir] = await Promise.all([launchChromium(), startFaultProxy(ferry.url, {}), tempDir('ferry-uppy-files-')]);
  });
  afterEach(() => closePages());
  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
    await ferry?.dispose();
    await site?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** The tus requests the page makes to Ferry (preflights are not seen by the page's request events). */
  function recordTus(page: Page): TusRequest[] {
    const seen: TusRequest[] = [];
    page.on('request', (r: Request) => {
      if (!r.url().startsWith(`${proxy.url}/tus/`)) return;
      const offset = r.headers()['upload-offset'];
      seen.push({ method: r.method(), url: r.url(), offset: offset === undefined ? null : Number(offset) });
    });
    return seen;
  }

  /** Chooses files with the Dashboard's "browse files" button and the file dialog it opens. */
  async function addFiles(page: Page, files: TestFile[]): Promise<void> {
    const chooser = page.waitForEvent('filechooser');
    await page.getByRole('button', { name: 'browse files' }).click();
    await (await chooser).setFiles(files.map((f) => f.path));
    await page.waitForFunction((n) => window.uppyTest.uppy.getFiles().length === n, files.length);
  }

  /** The tus upload URL @uppy/tus has for each file (set once its upload was created), by file name. */
  function uploadUrls(page: Page): Promise<Record<string, string | null>> {
    return page.evaluate(() => Object.fromEntries(window.uppyTest.uppy.getFiles().map((f) => [f.name ?? '?', f.tus?.uploadUrl ?? null])));
  }

  /** The upload's offset as Ferry's tus endpoint says it (HEAD, straight to the server). */
  async function serverOffset(uploadUrl: string): Promise<number> {
    const r = await call(ferry.url, 'HEAD', new URL(uploadUrl).pathname, { headers: { 'tus-resumable': '1.0.0' } });
    expect(r.status, `HEAD ${uploadUrl}`).toBe(200);
    return Number(r.headers['upload-offset']);
  }

  /** Polls the server (not a timer standing in for it) until the upload's offset reaches `atLeast`. */
  async function waitForOffset(uploadUrl: string, atLeast: number, timeoutMs = 60_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const offset = await serverOffset(uploadUrl);
      if (offset >= atLeast) return offset;
      if (Date.now() > deadline) throw new Error(`${uploadUrl} stayed at offset ${offset} (waited for ${atLeast})`);
      await new Promise((res) => setTimeout(res, 50));
    }
  }

  it('uploads two files, survives a reload midway by resuming both, and Ferry serves them byte-identical', async () => {
    const big = await makeFile(dir, 'uppy-big.bin', 40 * MiB);
    // Not that small: when the page goes away, what the browser already handed to the network (socket
    // buffers, several MiB on loopback) still reaches the server, and the second file must still be
    // unfinished after that for its resumption to be more than a HEAD.
    const small = await makeFile(dir, 'uppy-small.bin', 24 * MiB);
    const files = [big, small];
    const created = ferry.ctx.metrics.get('ferry_uploads_created_total');
    const completed = ferry.ctx.metrics.get('ferry_uploads_completed_total');

    const endpoint = `${proxy.url}/tus/`;
    const { page, errors } = await openPage(browser, site.pageUrl(endpoint));
    expect(site.served).toContain('/page.js');
    const first = recordTus(page);

    // A slow link (per connection), so "midway" is a long, well-defined stretch for both files.
    proxy.setPlan({ bytesPerSecond: 3 * MiB });
    await addFiles(page, files);
    await page.getByRole('button', { name: /^Upload 2 files/ }).click();

    // Both uploads exist on the server once @uppy/tus has their URLs (it learns them from POST's Location).
    await page.waitForFunction(
      () => window.uppyTest.events.some((e) => e.type === 'error') || window.uppyTest.uppy.getFiles().every((f) => typeof f.tus?.uploadUrl === 'string'),
    );
    expect(await page.evaluate(() => window.uppyTest.events.filter((e) => e.type === 'error'))).toEqual([]);
    const urls = (await uploadUrls(page)) as Record<string, string>;
    for (const f of files) expect(urls[f.name], f.name).toMatch(new RegExp(`^${proxy.url}/tus/[^/]+$`));
    expect(new Set(Object.values(urls)).size).toBe(2);
    expect(first.filter((r) => r.method === 'POST')).toHaveLength(2);

    // Real progress: the big file has a whole chunk durably on the server.
    await waitForOffset(urls[big.name], chunkSize);
    await gotoReady(page); // reload: the page's requests die with it, Uppy starts empty

    // Where the server stood then (bytes still on their way may land later, so these are lower bounds
    // of where the second run starts); the small one moves at the same throttled speed as the big one.
    const atReload = { [big.name]: await serverOffset(urls[big.name]), [small.name]: await serverOffset(urls[small.name]) };
    const sentBefore = proxy.stats.bytesUp;
    expect(atReload[big.name]).toBeGreaterThanOrEqual(chunkSize);
    expect(atReload[big.name]).toBeLessThan(big.size);
    expect(atReload[small.name]).toBeLessThan(small.size);
    // What @uppy/tus resumes from: each file's upload URL under its fingerprint in localStorage.
    const stored = await page.evaluate(() =>
      Object.entries(localStorage)
        .filter(([k]) => k.startsWith('tus::'))
        .map(([, v]) => (JSON.parse(v) as { uploadUrl: string }).uploadUrl),
    );
    expect(stored.sort()).toEqual(Object.values(urls).sort());

    // Second run: the same files again, at full speed.
    const second = recordTus(page);
    proxy.setPlan({});
    await addFiles(page, files);
    await page.getByRole('button', { name: /^Upload 2 files/ }).click();
    await page.waitForFunction(() => window.uppyTest.result !== null, undefined, { timeout: 90_000 });
    await screenshot(page, 'uppy-done.png');

    const result = await page.evaluate(() => window.uppyTest.result);
    expect(result).toEqual({ successful: expect.arrayContaining(files.map((f) => f.name)), failed: [] });
    // Resumed, not restarted: no upload was created, each upload URL is the one from before the
    // reload, and each file's bytes were appended from where the server stood, not from 0.
    expect(second.filter((r) => r.method === 'POST')).toEqual([]);
    expect(await uploadUrls(page)).toEqual(urls);
    const events = await page.evaluate(() => window.uppyTest.events);
    expect(events.filter((e) => e.type === 'error')).toEqual([]);
    expect(Object.fromEntries(events.map((e) => [e.name, e.url]))).toEqual(urls);
    for (const f of files) expect(second.some((r) => r.method === 'HEAD' && r.url === urls[f.name]), `HEAD ${f.name}`).toBe(true);
    for (const f of files) {
      const patches = second.filter((r) => r.method === 'PATCH' && r.url === urls[f.name]);
      expect(patches.length, `PATCH ${f.name}`).toBeGreaterThan(0);
      expect(patches[0].offset, f.name).toBeGreaterThan(0);
      expect(patches[0].offset, f.name).toBeGreaterThanOrEqual(atReload[f.name]);
    }
    // What went over the wire after the reload: the rest of both files, not the files again (slack:
    // request headers, and what the proxy still held of the cut requests when the page went away).
    const remaining = files.reduce((n, f) => n + f.size - atReload[f.name], 0);
    expect(proxy.stats.bytesUp - sentBefore).toBeLessThanOrEqual(remaining + 2 * MiB);

    // On the server: two uploads created in all, both complete into files that read back identical.
    expect(ferry.ctx.metrics.get('ferry_uploads_created_total') - created).toBe(2);
    expect(ferry.ctx.metrics.get('ferry_uploads_completed_total') - completed).toBe(2);
    for (const f of files) {
      const id = new URL(urls[f.name]).pathname.split('/').pop()!;
      const status = await call(ferry.url, 'GET', `/uploads/${id}`);
      expect(status.status, status.text).toBe(200);
      expect(status.body).toMatchObject({ uploadId: id, state: 'complete', name: f.name, size: f.size });
      expect(status.body.fileUrl, f.name).toEqual(expect.any(String));
      expect(await fetchDigest(new URL(new URL(status.body.fileUrl).pathname, ferry.url).href)).toEqual({ sha256: f.sha256, size: f.size });
    }
    const listed = await call(ferry.url, 'GET', '/files');
    expect(listed.status).toBe(200);
    expect((listed.body.files as Array<{ name: string }>).map((f) => f.name).sort()).toEqual(files.map((f) => f.name).sort());
    expect(errors).toEqual([]);
  });
});
