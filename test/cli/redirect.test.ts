// `ferry download` (the built CLI) of URLs that answer with redirects, as release assets, object-store
// links and CDNs do: followed like curl -L (one hop, and a chain across origins that drops the
// Authorization header where the origin changes); a loop fails in seconds with one line.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { KiB, MiB, startTestServer } from '../helpers/server.js';
import { storeFile, tempDir } from '../download/support.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** No proxy from the machine's environment: these requests are meant to reach loopback directly. */
const noProxy = { HTTP_PROXY: undefined, http_proxy: undefined, HTTPS_PROXY: undefined, https_proxy: undefined };

interface Redirector {
  url: string;
  /** "path authorization" of every request it answered. */
  seen: string[];
}

/** Answers every request with `status` and Location `to(path)`. */
async function redirector(status: number, to: (path: string) => string): Promise<Redirector> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.url} ${req.headers.authorization ?? '-'}`);
    res.writeHead(status, { location: to(req.url!) }).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, seen };
}

async function ferryFile(size: number) {
  const server = await startTestServer();
  cleanups.push(() => server.dispose());
  const data = randomBytes(size);
  const { fileUrl } = await storeFile(server.url, data, { chunkSize: 256 * KiB });
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  return { data, fileUrl, dir };
}

describe('ferry download through redirects', () => {
  it('follows a 302 to a Ferry file URL; the file is byte-identical', async () => {
    const { data, fileUrl, dir } = await ferryFile(1 * MiB + 5);
    // Path-preserving, as a moved host redirects: /dl/manifest goes to the file's manifest too.
    const moved = await redirector(302, (path) => fileUrl + path.slice('/dl'.length));
    const out = join(dir, 'one.bin');
    const r = await runCli(['download', `${moved.url}/dl`, '-o', out], { ...noProxy, FERRY_STATE_DIR: join(dir, 'state') });
    expect(r.code, r.stderr).toBe(0);
    expect((await readFile(out)).equals(data)).toBe(true);
    expect(moved.seen.length).toBeGreaterThan(0);
  });

  it('follows a chain of two, the second on another origin, which does not get the Authorization header', async () => {
    const { data, fileUrl, dir } = await ferryFile(2 * MiB + 3);
    const second = await redirector(307, (path) => fileUrl + path.slice('/hop'.length));
    const first = await redirector(301, (path) => `${second.url}/hop${path.slice('/start'.length)}`);
    const out = join(dir, 'two.bin');
    const r = await runCli(['download', `${first.url}/start`, '-o', out, '--token', 'secret-token'], { ...noProxy, FERRY_STATE_DIR: join(dir, 'state') });
    expect(r.code, r.stderr).toBe(0);
    expect((await readFile(out)).equals(data)).toBe(true);
    expect(first.seen.length).toBeGreaterThan(0);
    expect(first.seen.every((s) => s.endsWith(' Bearer secret-token'))).toBe(true);
    expect(second.seen.length).toBeGreaterThan(0);
    expect(second.seen.every((s) => s.endsWith(' -'))).toBe(true);
  });

  it('a redirect loop fails within seconds, in one line that says so', async () => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const loop = await redirector(302, (path) => path);
    const started = Date.now();
    const r = await runCli(['download', `${loop.url}/around`, '-o', join(dir, 'never.bin')], { ...noProxy, FERRY_STATE_DIR: join(dir, 'state') });
    expect(r.code).not.toBe(0);
    expect(Date.now() - started).toBeLessThan(20_000);
    const lines = r.stderr.trim().split('\n').filter((l) => l.trim() !== '');
    expect(lines.at(-1)).toMatch(/redirect/i);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }, 30_000);
});
