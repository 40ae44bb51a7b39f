// The download engine against a plain HTTP server (no manifest): parallel ranges with If-Range,
// Repr-Digest checks, a single stream when ranges are not offered, a file replaced mid-download.
import { randomBytes } from 'node:crypto';
import { access, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { KiB, MiB } from '../helpers/server.js';
import { download, parseStateForTest, type DownloadEvents } from './engine.js';
import { replaceFile, startStaticServer, tempDir, type StaticOptions } from './support.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function fixture(size: number, options: StaticOptions = {}) {
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  const data = randomBytes(size);
  const source = join(dir, 'big file.bin');
  await writeFile(source, data);
  const server = await startStaticServer(dir, options);
  cleanups.push(() => server.close());
  return { server, data, source, url: `${server.url}/big%20file.bin`, dest: join(dir, 'out.bin') };
}

const exists = (p: string) => access(p).then(() => true, () => false);

describe('download from a plain HTTP server', () => {
  it('fetches ranges in parallel; without Repr-Digest it says the file was not verified end-to-end', async () => {
    const { server, data, url, dest } = await fixture(3 * MiB + 5);
    const handle = download(url, dest, { chunkSize: 256 * KiB, concurrency: 4 });
    const warnings: string[] = [];
    handle.on('warning', (w) => warnings.push(w.message));
    const started: Array<DownloadEvents['started']> = [];
    handle.on('started', (s) => started.push(s));
    const result = await handle.result;
    expect(started[0]).toMatchObject({ mode: 'ranges', totalChunks: 13, chunkSize: 256 * KiB });
    expect(result).toMatchObject({ verified: 'none', digest: null, size: data.length, bytesFetched: data.length });
    expect(warnings.join()).toMatch(/not verified end-to-end/);
    expect(server.bytesServed).toBe(data.length);
    expect(server.unconditionalRanges).toBe(0);
    expect(Buffer.compare(await readFile(dest), data)).toBe(0);
  });

  it('checks the whole file against Repr-Digest', async () => {
    const { data, url, dest } = await fixture(2 * MiB + 1, { reprDigest: true });
    const result = await download(url, dest, { chunkSize: 256 * KiB }).result;
    expect(result.verified).toBe('repr-digest');
    expect(Buffer.compare(await readFile(dest), data)).toBe(0);
  });

  it('downloads a 0-byte file', async () => {
    const { url, dest } = await fixture(0, { reprDigest: true });
    const result = await download(url, dest).result;
    expect(result).toMatchObject({ size: 0, verified: 'repr-digest', bytesFetched: 0 });
    expect((await stat(dest)).size).toBe(0);
  });

  it('without ranges: one stream, hashed while written; an old partial file cannot be resumed', async () => {
    const { data, url, dest } = await fixture(2 * MiB + 3, { ranges: false, reprDigest: true });
    await writeFile(`${dest}.part`, 'stale');
    await writeFile(`${dest}.part.ferry`, JSON.stringify({ version: 1, url, mode: 'ranges', size: data.length, chunkSize: 1024, etag: '"x"', lastModified: null, done: '0', updatedAt: new Date().toISOString() }));
    const handle = download(url, dest);
    const restarts: string[] = [];
    handle.on('restart', (r) => restarts.push(`${r.reason}: ${r.message}`));
    const started: Array<DownloadEvents['started']> = [];
    handle.on('started', (s) => started.push(s));
    const result = await handle.result;
    expect(started[0]!.mode).toBe('stream');
    expect(restarts).toEqual(['cannot-resume: the server does not accept ranges, so resuming is impossible; starting over']);
    expect(result).toMatchObject({ verified: 'repr-digest', resumed: false, bytesFetched: data.length });
    expect(Buffer.compare(await readFile(dest), data)).toBe(0);
  });

  it('resumes from the sidecar with If-Range after an abort', async () => {
    const { server, data, url, dest } = await fixture(4 * MiB, { reprDigest: true });
    const first = download(url, dest, { chunkSize: 256 * KiB, concurrency: 2 });
    first.on('progress', (p) => {
      if (p.chunksDone >= 5) void first.abort();
    });
    await expect(first.result).rejects.toMatchObject({ reason: 'aborted' });
    const state = parseStateForTest(await readFile(`${dest}.part.ferry`, 'utf8'));
    expect(state).toMatchObject({ mode: 'ranges', chunkSize: 256 * KiB, size: data.length });
    expect(state.etag).toMatch(/^"/);
    const servedBefore = server.bytesServed;
    // A different chunk size asked for the second time: the sidecar's wins, so indexes mean the same.
    const result = await download(url, dest, { chunkSize: 1 * MiB }).result;
    expect(result).toMatchObject({ resumed: true, verified: 'repr-digest' });
    expect(server.bytesServed - servedBefore).toBe(data.length - state.done.length * 256 * KiB);
    expect(server.unconditionalRanges).toBe(0);
    expect(Buffer.compare(await readFile(dest), data)).toBe(0);
  });

  it('a file replaced mid-download is never stitched: the download starts over and says so', async () => {
    const { server, source, url, dest } = await fixture(4 * MiB);
    const replacement = randomBytes(3 * MiB + 7);
    const handle = download(url, dest, { chunkSize: 256 * KiB, concurrency: 2 });
    const restarts: string[] = [];
    handle.on('restart', (r) => restarts.push(r.message));
    let replaced: Promise<void> | null = null;
    handle.on('progress', (p) => {
      if (!replaced && p.chunksDone >= 3) {
        // Pause so no new range starts before the file is replaced, then let them all meet the new file.
        // (Set `replaced` first: pause() emits progress, which re-enters this listener.)
        replaced = replaceFile(source, replacement).then(() => handle.resume());
        handle.pause();
      }
    });
    const result = await handle.result;
    await replaced;
    expect(restarts).toEqual(['remote changed, starting over']);
    expect(server.ifRangeFailures).toBeGreaterThan(0);
    expect(result).toMatchObject({ restarts: 1, size: replacement.length, resumed: false });
    expect(Buffer.compare(await readFile(dest), replacement)).toBe(0);
  });

  it('a changed remote found at resume time discards the partial file', async () => {
    const { source, url, dest } = await fixture(4 * MiB);
    const first = download(url, dest, { chunkSize: 256 * KiB, concurrency: 1 });
    first.on('progress', (p) => {
      if (p.chunksDone >= 2) void first.abort();
    });
    await expect(first.result).rejects.toMatchObject({ reason: 'aborted' });
    const replacement = randomBytes(4 * MiB);
    await replaceFile(source, replacement);
    const second = download(url, dest);
    const restarts: string[] = [];
    second.on('restart', (r) => restarts.push(`${r.reason}: ${r.message}`));
    const result = await second.result;
    expect(restarts).toEqual(['remote-changed: remote changed, starting over']);
    expect(result.resumed).toBe(false);
    expect(Buffer.compare(await readFile(dest), replacement)).toBe(0);
  });

  it('a byte flipped on the way fails the Repr-Digest check; nothing is put in place', async () => {
    const { server, url, dest } = await fixture(2 * MiB, { reprDigest: true });
    const proxy = await startFaultProxy(server.url, { seed: 5, flipRate: 1, flipDirection: 'down', flipWindow: [2 * KiB, 200 * KiB], maxFlips: 1 });
    cleanups.push(() => proxy.close());
    const err = await download(url.replace(server.url, proxy.url), dest, { chunkSize: 256 * KiB }).result.catch((e: unknown) => e);
    expect(proxy.stats.faults.flip).toBe(1);
    expect(err).toMatchObject({ name: 'DownloadError', reason: 'verification' });
    expect((err as Error).message).toMatch(/Repr-Digest/);
    expect(await exists(dest)).toBe(false);
    expect(await exists(`${dest}.part`)).toBe(false);
    expect(await exists(`${dest}.part.ferry`)).toBe(false);
  });
});
