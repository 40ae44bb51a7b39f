// GET / and the web page's assets (app.js, worker.js, style.css, ...) from dist/web, which
// scripts/build-web.mjs builds. A fixed list of names, so nothing else on disk is reachable.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { FerryError } from '../../protocol/index.js';
import { notModified } from '../conditional.js';
import type { ServerContext } from '../context.js';

/** The page's paths (the router's pattern for this route); none collides with the protocol's. */
export const webAssetPattern = /^\/(?<asset>|index\.html|app\.js|app\.js\.map|worker\.js|worker\.js\.map|style\.css|style\.css\.map|favicon\.svg)$/;

const types: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  map: 'application/json',
  svg: 'image/svg+xml',
};

// Same place from src/server/routes (tests, tsx) and dist/server/routes (the built server).
const webDir = fileURLToPath(new URL('../../../dist/web/', import.meta.url));

/**
 * The page may load only its own scripts, styles and worker, talk only to this server, and not be
 * framed. No inline script or style, no eval. Images: its own, and previews of files being uploaded.
 */
const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "worker-src 'self'",
  "connect-src 'self'",
  "style-src 'self'",
  // blob: for previews of the images being uploaded (object URLs of the person's own files).
  "img-src 'self' blob:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  bytes: Buffer;
  etag: string;
  mtimeMs: number;
}

/** Last read of each file, reused while its size and mtime are unchanged (a rebuild changes them). */
const cache = new Map<string, Asset>();

async function load(name: string): Promise<Asset> {
  const path = webDir + name;
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new FerryError('not-found', `The web page is not built (no ${name} in dist/web): run npm run build.`);
  }
  const cached = cache.get(name);
  if (cached && cached.mtimeMs === info.mtimeMs && cached.bytes.length === info.size) return cached;
  const bytes = await readFile(path);
  const etag = `"${createHash('sha256').update(bytes).digest('base64url')}"`;
  const asset = { bytes, etag, mtimeMs: info.mtimeMs };
  cache.set(name, asset);
  return asset;
}

export async function getWebAsset(_ctx: ServerContext, req: IncomingMessage, res: ServerResponse, params: { asset: string }): Promise<void> {
  const name = params.asset === '' ? 'index.html' : params.asset;
  const asset = await load(name);
  const lastModified = Math.floor(asset.mtimeMs / 1000) * 1000;
  const headers: Record<string, string> = {
    'content-type': types[name.slice(name.lastIndexOf('.') + 1)] ?? 'application/octet-stream',
    etag: asset.etag,
    'last-modified': new Date(lastModified).toUTCString(),
    // Names are not content-hashed, so every use revalidates (a 304 costs a round trip, not the bytes)
    // and an upgraded server never runs next to a stale cached script.
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'content-security-policy': contentSecurityPolicy,
  };
  if (notModified(req, { etag: asset.etag, lastModified })) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': String(asset.bytes.length) });
  res.end(req.method === 'HEAD' ? undefined : asset.bytes);
}
