// The Uppy test page as a site of its own: page.ts bundled by esbuild (with Uppy's and the Dashboard's
// CSS) into a temporary directory, served by a small static server on its own loopback port, so the
// page's origin is not Ferry's and every tus request it makes is a real cross-origin (CORS) request.
import { build } from 'esbuild';
import { createReadStream } from 'node:fs';
import { rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve } from 'node:path';
import { tempDir } from '../../helpers/server.js';

export interface UppySite {
  /** The page's origin (http://127.0.0.1:<port>), what Ferry's corsOrigins must allow. */
  origin: string;
  /** The page's address for a tus endpoint. */
  pageUrl(endpoint: string): string;
  /** GET requests the static server answered (paths), to tell the page was served from here. */
  served: string[];
  close(): Promise<void>;
}

const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Uppy → Ferry</title>
<link rel="stylesheet" href="/page.css">
</head>
<body>
<main id="uppy"></main>
<script type="module" src="/page.js"></script>
</body>
</html>
`;

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
};

/** Bundles the page into `dir`: index.html, page.js, page.css. */
export async function bundlePage(dir: string): Promise<void> {
  const result = await build({
    entryPoints: { page: resolve(import.meta.dirname, 'page.ts') },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outdir: dir,
    sourcemap: 'linked',
    logLevel: 'silent',
    // Uppy checks process.env.NODE_ENV in places (preact, Uppy's dev warnings).
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  if (result.errors.length > 0) throw new Error(`esbuild: ${result.errors.map((e) => e.text).join('; ')}`);
  await writeFile(join(dir, 'index.html'), html);
}

export async function startUppySite(): Promise<UppySite> {
  const dir = await tempDir('ferry-uppy-page-');
  await bundlePage(dir);
  const served: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const name = path === '/' ? 'index.html' : path.slice(1);
    if (req.method !== 'GET' || !/^[\w.-]+$/.test(name)) {
      res.writeHead(404).end();
      return;
    }
    const file = join(dir, name);
    stat(file).then(
      (s) => {
        served.push(path);
        res.writeHead(200, { 'content-type': types[extname(name)] ?? 'application/octet-stream', 'content-length': s.size, 'cache-control': 'no-store' });
        createReadStream(file).pipe(res);
      },
      () => res.writeHead(404).end(),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    pageUrl: (endpoint) => `${origin}/?endpoint=${encodeURIComponent(endpoint)}`,
    served,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((res) => server.close(() => res()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
