// Requests per second per identity (per client address in open mode, and with a grant): a burst past
// the bucket is answered 429 rate-limited with Retry-After, before any body is read; others go on.
import { request } from 'node:http';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createResumeStore, upload } from '../../src/client/node/index.js';
import { MediaTypes, Paths } from '../../src/protocol/index.js';
import { createApiKey } from '../../src/server/auth/api-keys.js';
import { TokenBuckets } from '../../src/server/limits/rate-limiter.js';
import { randomData, sha256Field } from '../helpers/digest.js';
import type { Reply } from '../helpers/http.js';
import { MiB, startTestServer, tempDir, type TestServer } from '../helpers/server.js';

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.dispose()));
});

/** A server whose clock stands still until the test moves it: buckets refill only when told. */
async function server(config: Parameters<typeof startTestServer>[0]): Promise<TestServer & { advance(ms: number): void }> {
  const s = await startTestServer(config);
  servers.push(s);
  let now = Date.now();
  s.ctx.now = () => now;
  return Object.assign(s, { advance: (ms: number) => void (now += ms) });
}

/** One request from a chosen loopback address (127.0.0.2 is another client to the server). */
function send(base: string, method: string, path: string, o: { from?: string; headers?: Record<string, string | number>; body?: Buffer } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, base), { method, localAddress: o.from ?? '127.0.0.1', agent: false, headers: o.headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (p: Buffer) => parts.push(p));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        const json = String(res.headers['content-type'] ?? '').includes('json') && text;
        resolve({ status: res.statusCode!, headers: res.headers, body: json ? JSON.parse(text) : text, text });
      });
    });
    // The server may answer and close before it reads the body: that is what is being tested.
    req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? undefined : reject(e)));
    req.end(o.body);
  });
}

const caps = (s: TestServer, from?: string, headers?: Record<string, string>) => send(s.url, 'GET', Paths.capabilities, { from, headers });

async function statuses(n: number, one: () => Promise<Reply>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await one()).status);
  return out;
}

describe('the request rate', () => {
  it('behind a trusted proxy counts each client by the address the proxy appended to X-Forwarded-For', async () => {
    const behind = await server({ rateLimit: 1, rateBurst: 2, trustProxy: true });
    const via = (client: string) => () => caps(behind, '127.0.0.1', { 'x-forwarded-for': `203.0.113.9, ${client}` });
    expect(await statuses(3, via('198.51.100.1'))).toEqual([200, 200, 429]);
    expect(await statuses(2, via('198.51.100.2'))).toEqual([200, 200]);
    // Without --trust-proxy the header is the client's own say: one address, one bucket.
    const direct = await server({ rateLimit: 1, rateBurst: 2 });
    const spoof = (client: string) => () => caps(direct, '127.0.0.1', { 'x-forwarded-for': client });
    expect(await statuses(2, spoof('198.51.100.1'))).toEqual([200, 200]);
    expect((await spoof('198.51.100.2')()).status).toBe(429);
  });

  it('answers a burst past the bucket 429 rate-limited with Retry-After; another client, and health checks, are unaffected', async () => {
    const s = await server({ rateLimit: 5, rateBurst: 10 });
    expect(await statuses(10, () => caps(s))).toEqual(Array(10).fill(200));
    const refused = await caps(s);
    expect(refused.status).toBe(429);
    expect(refused.headers['content-type']).toBe(MediaTypes.problem);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.body).toMatchObject({ type: 'urn:ferry:problem:rate-limited', rateLimit: 5, rateBurst: 10, retryAfter: 1 });
    expect(s.ctx.metrics.get('ferry_limits_hit_total', { kind: 'rate' })).toBe(1);

    expect((await caps(s, '127.0.0.2')).status).toBe(200);
    expect((await send(s.url, 'GET', '/healthz')).status).toBe(200);

    s.advance(1000); // five tokens back
    expect(await statuses(6, () => caps(s))).toEqual([200, 200, 200, 200, 200, 429]);
  });

  it('says how long until a token is back', async () => {
    const s = await server({ rateLimit: 0.25, rateBurst: 1 });
    expect((await caps(s)).status).toBe(200);
    expect((await caps(s)).headers['retry-after']).toBe('4');
    s.advance(3000);
    expect((await caps(s)).headers['retry-after']).toBe('1');
    s.advance(1000);
    expect((await caps(s)).status).toBe(200);
  });

  it('counts per identity in token mode, from any address; each grant holder per address', async () => {
    const s = await server({ auth: 'token', rateLimit: 1, rateBurst: 3 });
    const now = Date.now();
    const bearer = async (identity: string) => ({ authorization: `Bearer ${(await createApiKey(s.ctx.meta, identity, 'user', '', now)).key}` });
    const alice = await bearer('alice');
    const bob = await bearer('bob');
    expect(await statuses(4, () => caps(s, '127.0.0.1', alice))).toEqual([200, 200, 200, 429]);
    expect((await caps(s, '127.0.0.2', alice)).status).toBe(429); // the same identity elsewhere
    expect((await caps(s, '127.0.0.1', bob)).status).toBe(200); // another identity here
  });

  it('refuses a chunk PUT before reading its body: the connection closes and nothing is stored', async () => {
    const s = await server({ rateLimit: 1, rateBurst: 2 });
    const data = randomData(1 * MiB);
    const created = await send(s.url, 'POST', Paths.uploads, {
      headers: { 'content-type': MediaTypes.json },
      body: Buffer.from(JSON.stringify({ name: 'x', size: data.length, chunkSize: data.length })),
    });
    expect(created.status, created.text).toBe(201);
    expect((await caps(s)).status).toBe(200);
    const put = await send(s.url, 'PUT', Paths.chunk(created.body.uploadId, 0), {
      headers: { 'content-digest': sha256Field(data), 'content-length': data.length },
      body: data,
    });
    expect(put.status).toBe(429);
    expect(put.headers.connection).toBe('close');
    expect(s.ctx.metrics.get('ferry_chunk_bytes_received_total')).toBe(0);
    expect(await s.ctx.meta.getUpload(created.body.uploadId)).toMatchObject({ chunksReceived: 0 });
  });

  it('is off with rateLimit 0 (and then not in the capabilities)', async () => {
    const s = await server({ rateLimit: 0 });
    expect(await statuses(50, () => caps(s))).toEqual(Array(50).fill(200));
    expect((await caps(s)).body.rateLimit).toBeUndefined();
  });

  it('the Ferry client waits out a 429 as its Retry-After says, and finishes', async () => {
    const s = await startTestServer({ rateLimit: 5, rateBurst: 3 }); // a real clock: tokens come back
    servers.push(s);
    const dir = await tempDir('ferry-rate-');
    try {
      const path = join(dir, 'file.bin');
      const data = randomData(8 * 64 * 1024);
      await writeFile(path, data);
      let refused = 0;
      const counting: typeof fetch = async (url, init) => {
        const res = await fetch(url, init);
        if (res.status === 429) refused++;
        return res;
      };
      const result = await upload(path, { server: s.url, fetch: counting, resumeStore: createResumeStore({ dir: join(dir, 'state') }) }).result;
      expect(result.size).toBe(data.length);
      expect(refused).toBeGreaterThan(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('TokenBuckets', () => {
  it('refills at the rate up to the burst, and a clock stepping back takes nothing', () => {
    const b = new TokenBuckets(2, 4);
    expect([0, 0, 0, 0].map(() => b.take('k', 0))).toEqual([0, 0, 0, 0]);
    expect(b.take('k', 0)).toBe(500);
    expect(b.take('k', 250)).toBe(250);
    expect(b.take('k', 500)).toBe(0);
    expect(b.take('k', 100)).toBe(500); // back in time: no refill, no debt
    expect(b.take('k', 10_000)).toBe(0);
  });

  it('keeps memory bounded: idle buckets go, and never more than the capacity', () => {
    const b = new TokenBuckets(10, 20, 1000);
    for (let i = 0; i < 5000; i++) b.take(`address:${i}`, i);
    expect(b.size).toBeLessThanOrEqual(1000);
    b.take('late', 60_000); // everyone else has long refilled: the same as no bucket
    expect(b.size).toBe(1);
  });
});
