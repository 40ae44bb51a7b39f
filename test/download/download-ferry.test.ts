// The download engine against the real Ferry server, in-process: manifest mode, every chunk verified,
// a 0-byte file, resume after abort(), abort with discard, a network that cuts and one that flips bits.
import { randomBytes } from 'node:crypto';
import { access, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { download, parseStateForTest } from './engine.js';
import { createNodeTransport } from '../../src/client/node/http-transport.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { KiB, MiB, startTestServer, type TestServer } from '../helpers/server.js';
import { bytesServed, storeFile, tempDir } from './support.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function fixture(size: number, chunkSize = 256 * KiB, fileDigest = false) {
  const server = await startTestServer();
  cleanups.push(() => server.dispose());
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  const data = randomBytes(size);
  const { fileUrl } = await storeFile(server.url, data, { chunkSize, fileDigest });
  return { server, dir, data, fileUrl, dest: join(dir, 'out.bin') };
}

const exists = (p: string) => access(p).then(() => true, () => false);

describe('download from a Ferry server', () => {
  it('downloads byte-identical, verifies every chunk and the Repr-Digest, leaves no .part or sidecar', async () => {
    const { server, data, fileUrl, dest } = await fixture(4 * MiB + 123, 256 * KiB, true);
    const handle = download(fileUrl, dest);
    const started: unknown[] = [];
    handle.on('started', (s) => started.push(s));
    const result = await handle.result;
    expect(Buffer.compare(await readFile(dest), data)).toBe(0);
    expect(result).toMatchObject({ size: data.length, verified: 'chunks', resumed: false, restarts: 0, bytesFetched: data.length });
    expect(result.digest).toMatch(/^sha-256=:/);
    expect(started).toMatchObject([{ mode: 'manifest', totalChunks: 17, resumed: false }]);
    expect(handle.progress()).toMatchObject({ phase: 'done', bytesAcked: data.length, chunksDone: 17 });
    expect(await exists(`${dest}.part`)).toBe(false);
    expect(await exists(`${dest}.part.ferry`)).toBe(false);
    expect(bytesServed(server)).toBe(data.length);
  });

  it('downloads a 0-byte file', async () => {
    const { fileUrl, dest } = await fixture(0, 64 * KiB);
    const result = await download(fileUrl, dest).result;
    expect(result).toMatchObject({ size: 0, verified: 'chunks', bytesFetched: 0 });
    expect((await stat(dest)).size).toBe(0);
  });

  it('abort() keeps .part and sidecar; the next call resumes and fetches only what is missing', async () => {
    const { server, data, fileUrl, dest } = await fixture(8 * MiB, 256 * KiB);
    const first = download(fileUrl, dest, { concurrency: 2 });
    first.on('progress', (p) => {
      if (p.chunksDone >= 8) void first.abort();
    });
    await expect(first.result).rejects.toMatchObject({ name: 'DownloadError', reason: 'aborted' });
    const state = parseStateForTest(await readFile(`${dest}.part.ferry`, 'utf8'));
    expect(state.done.length).toBeGreaterThanOrEqual(8);
    expect((await stat(`${dest}.part`)).size).toBe(data.length);

    const servedBefore = bytesServed(server);
    const second = download(fileUrl, dest);
    const result = await second.result;
    expect(result).toMatchObject({ resumed: true, verified: 'chunks' });
    expect(result.bytesFetched).toBe(data.length - state.done.length * 256 * KiB);
    expect(bytesServed(server) - servedBefore).toBe(result.bytesFetched);
    expect(Buffer.compare(await readFile(dest), data)).toBe(0);
  });

  it('abort({ discard: true }) deletes the .part and the sidecar', async () => {
    const { fileUrl, dest } = await fixture(8 * MiB, 256 * KiB);
    const handle = download(fileUrl, dest, { concurrency: 1 });
    handle.on('progress', (p) => {
      if (p.chunksDone >= 2) void handle.abort({ discard: true });
    });
    await expect(handle.result).rejects.toMatchObject({ reason: 'aborted' });
    expect(await exists(`${dest}.part`)).toBe(false);
    expect(await exists(`${dest}.part.ferry`)).toBe(false);
  });

  it('pause() stops new ranges until resume()', async () => {
    const { data, fileUrl, dest } = await fixture(4 * MiB, 256 * KiB);
    const handle = download(fileUrl, dest, { concurrency: 2 });
    let pausedAt = -1;
    const unpaused = new Promise<void>((resolve) => {
      handle.on('progress', (p) => {
        if (pausedAt < 0 && p.chunksDone >= 3) {
          handle.pause();
          pausedAt = p.chunksDone;
        }
        // Paused with nothing in flight: everything is settled, and nothing new started.
        if (handle.paused && p.inFlight === 0 && pausedAt >= 0) {
          expect(p.chunksDone).toBeLessThanOrEqual(pausedAt + 2);
          expect(p.phase).toBe('paused');
          handle.resume();
          resolve();
        }
      });
    });
    await unpaused;
    await handle.result;
    expect(Buffer.compare(await readFile(dest), data)).toBe(0);
  });

  it('completes through a proxy that cuts downloads mid-body', async () => {
    const { server, data, fileUrl, dest } = await fixture(8 * MiB, 512 * KiB);
    const proxy = await startFaultProxy(server.url, { seed: 12, cutRate: 0.4, cutDirection: 'down', cutAfterBytes: [1, 400 * KiB], maxFaults: 10 });
    cleanups.push(() => proxy.close());
    const handle = download(fileUrl.replace(server.url, proxy.url), dest, { retry: { baseDelayMs: 5, maxDelayMs: 50 } });
    const kinds: string[] = [];
    handle.on('retry', (r) => kinds.push(r.kind));
    const result = await handle.result;
    expect(proxy.stats.faults.cut).toBeGreaterThan(0);
    expect(kinds).toContain('unreachable');
    expect(result.verified).toBe('chunks');
    expect(Buffer.compare(await readFile(dest), data)).toBe(0);
  });

  it('re-fetches a chunk whose bytes were flipped on the way (digest mismatch)', async () => {
    const { server, data, fileUrl, dest } = await fixture(8 * MiB, 512 * KiB);
    // Past the response headers, inside the first body of a connection.
    const proxy = await startFaultProxy(server.url, { seed: 5, flipRate: 1, flipDirection: 'down', flipWindow: [2 * KiB, 400 * KiB], maxFlips: 3 });
    cleanups.push(() => proxy.close());
    // Four chunks in flight from the start: at least four connections, whatever the transport reuses.
    const handle = download(fileUrl.replace(server.url, proxy.url), dest, { concurrency: 4, retry: { baseDelayMs: 5, maxDelayMs: 50 } });
    const corrupt: number[] = [];
    handle.on('retry', (r) => {
      if (r.kind === 'corrupt') corrupt.push(r.index!);
    });
    const result = await handle.result;
    expect(proxy.stats.faults.flip).toBe(3);
    expect(corrupt.length).toBe(3);
    expect(result.bytesFetched).toBe(data.length + corrupt.length * 512 * KiB);
    expect(Buffer.compare(await readFile(dest), data)).toBe(0);
  });

  it('a caller-supplied fetch carries every request (no direct range transport); the bytes are the same', async () => {
    const { data, fileUrl, dest } = await fixture(2 * MiB + 5, 256 * KiB, true);
    const transport = createNodeTransport();
    const seen: string[] = [];
    const fetchFn = (url: string, init: RequestInit) => (seen.push(`${init.method ?? 'GET'} ${new URL(url).pathname}`), transport(url, init));
    const result = await download(fileUrl, dest, { fetch: fetchFn, concurrency: 3 }).result;
    expect(Buffer.compare(await readFile(dest), data)).toBe(0);
    expect(result.verified).toBe('chunks');
    // The manifest, then all 9 ranges.
    expect(seen.filter((s) => s.startsWith('GET /files/') && !s.endsWith('/manifest'))).toHaveLength(9);
  });

  it('fails clearly on a file that does not exist', async () => {
    const server: TestServer = await startTestServer();
    cleanups.push(() => server.dispose());
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const err = await download(`${server.url}/files/nope`, join(dir, 'x')).result.catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'DownloadError', reason: 'fatal' });
    expect((err as Error).message).toMatch(/404|No file/);
  });
});
