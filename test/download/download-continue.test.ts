// A range cut mid-body is continued from its first missing byte (same hasher, same If-Range), not
// fetched again whole; a continuation whose bytes arrive damaged makes the chunk start over whole.
// Real Ferry server, real fault proxy on loopback.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { download } from './engine.js';
import { createNodeTransport } from '../../src/client/node/http-transport.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { MiB, startTestServer } from '../helpers/server.js';
import { storeFile, tempDir } from './support.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const retry = { baseDelayMs: 5, maxDelayMs: 50 };

/** 8 MiB stored in 4 MiB chunks, behind a proxy that cuts the first connection to carry 3 MiB down. */
async function fixture(fileDigest = false) {
  const server = await startTestServer();
  cleanups.push(() => server.dispose());
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  const data = randomBytes(8 * MiB);
  const { fileUrl } = await storeFile(server.url, data, { chunkSize: 4 * MiB, fileDigest });
  // Only a range body gets that far: the probe and the manifest are far smaller.
  const proxy = await startFaultProxy(server.url, { cutRate: 1, cutDirection: 'down', cutAfterBytes: [3 * MiB, 3 * MiB], maxFaults: 1 });
  cleanups.push(() => proxy.close());
  return { data, proxy, url: fileUrl.replace(server.url, proxy.url), dest: join(dir, 'out.bin') };
}

describe('a range cut mid-body', () => {
  it('continues from the first byte not received: nothing fetched twice', async () => {
    const { data, proxy, url, dest } = await fixture();
    const handle = download(url, dest, { concurrency: 1, retry });
    const kinds: string[] = [];
    handle.on('retry', (r) => kinds.push(r.kind));
    const result = await handle.result;
    expect(proxy.stats.faults.cut).toBe(1);
    expect(kinds).toEqual(['unreachable']);
    expect(Buffer.compare(await readFile(dest), data)).toBe(0);
    expect(result.verified).toBe('chunks');
    // Every body byte once: the ~3 MiB before the cut were kept, only the rest asked for again.
    expect(result.bytesFetched).toBe(data.length);
    expect(proxy.stats.bytesDown).toBeLessThan(data.length + 2 * MiB);
    expect(handle.progress()).toMatchObject({ phase: 'done', bytesAcked: data.length, chunksDone: 2 });
  });

  it('continues on the fetch path too (no direct range transport)', async () => {
    const { data, proxy, url, dest } = await fixture();
    const transport = createNodeTransport();
    const result = await download(url, dest, { fetch: transport, concurrency: 1, retry }).result;
    expect(proxy.stats.faults.cut).toBe(1);
    expect(Buffer.compare(await readFile(dest), data)).toBe(0);
    expect(result.bytesFetched).toBe(data.length);
  });

  it('starts the chunk over, whole and with a fresh hash, when the continuation arrives damaged', async () => {
    const { data, proxy, url, dest } = await fixture();
    // Once the first body is cut, flip one bit in the next connection's body: the continuation.
    void proxy.nextFault('cut').then(() =>
      proxy.setPlan({ flipRate: 1, flipDirection: 'down', flipWindow: [2 * 1024, 400 * 1024], maxFlips: 1 }),
    );
    const handle = download(url, dest, { concurrency: 1, retry });
    const events: string[] = [];
    handle.on('retry', (r) => events.push(`${r.kind} ${r.index}`));
    const result = await handle.result;
    expect(proxy.stats.faults).toMatchObject({ cut: 1, flip: 1 });
    expect(events).toEqual(['unreachable 0', 'corrupt 0']);
    expect(Buffer.compare(await readFile(dest), data)).toBe(0);
    // Chunk 0 was fetched as ~3 MiB + the ~1 MiB damaged rest, then 4 MiB whole again; chunk 1 once.
    expect(result.bytesFetched).toBe(data.length + 4 * MiB);
  });

  it('fetches the chunk again whole when the file has a whole-file digest (its parts are kept)', async () => {
    const { data, proxy, url, dest } = await fixture(true);
    const result = await download(url, dest, { concurrency: 1, retry }).result;
    expect(proxy.stats.faults.cut).toBe(1);
    expect(Buffer.compare(await readFile(dest), data)).toBe(0);
    // The ~3 MiB before the cut, then the chunk whole.
    expect(result.bytesFetched).toBeGreaterThan(data.length + 2 * MiB);
  });
});
