// The server side of the page: GET / and the assets from dist/web, with content types, validators
// (304 on a matching ETag), a strict Content-Security-Policy, and nothing else on disk reachable.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

describe('web page route', () => {
  let server: TestServer;
  beforeAll(async () => {
    if (!existsSync(resolve(import.meta.dirname, '../../dist/web/index.html'))) {
      throw new Error('dist/web is not built: run `npm run build` (npm test does it first).');
    }
    server = await startTestServer();
  });
  afterAll(() => server.dispose());

  it.each([
    ['/', 'text/html; charset=utf-8', '<script type="module" src="app.js">'],
    ['/index.html', 'text/html; charset=utf-8', '<input id="file-input" type="file" multiple'],
    ['/app.js', 'text/javascript; charset=utf-8', 'worker.js'],
    ['/worker.js', 'text/javascript; charset=utf-8', 'SHA-256'],
    ['/style.css', 'text/css; charset=utf-8', 'progress'],
    ['/favicon.svg', 'image/svg+xml', '<svg'],
  ])('GET %s', async (path, type, contains) => {
    const r = await call(server.url, 'GET', path);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe(type);
    expect(r.text).toContain(contains);
    expect(r.headers['cache-control']).toBe('no-cache');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers.etag).toMatch(/^"[A-Za-z0-9_-]{43}"$/);
    expect(Date.parse(String(r.headers['last-modified']))).not.toBeNaN();
    expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(r.text));
  });

  it('the page may run only its own scripts and talk only to this server', async () => {
    const csp = String((await call(server.url, 'GET', '/')).headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe-(inline|eval)/);
  });

  it('answers 304 to a matching If-None-Match, and HEAD without a body', async () => {
    const first = await call(server.url, 'GET', '/app.js');
    const again = await call(server.url, 'GET', '/app.js', { headers: { 'if-none-match': String(first.headers.etag) } });
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
    const head = await call(server.url, 'HEAD', '/app.js');
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(first.headers['content-length']);
    expect(head.text).toBe('');
  });

  it('serves nothing else: other names are problems, not files', async () => {
    for (const path of ['/main.js', '/app.js.bak', '/../package.json', '/web/app.js', '/index.htm']) {
      const r = await call(server.url, 'GET', path);
      expect(r.status, path).toBe(404);
      expect(r.headers['content-type'], path).toBe('application/problem+json');
    }
    const post = await call(server.url, 'POST', '/app.js');
    expect(post.status).toBe(405);
  });

  it('the protocol paths still belong to the protocol', async () => {
    expect((await call(server.url, 'GET', '/healthz')).body).toEqual({ status: 'ok' });
    expect((await call(server.url, 'GET', '/files')).body).toEqual({ files: [], nextCursor: null });
  });
});
