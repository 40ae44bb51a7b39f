// Reservations at create: uploads in progress and their declared bytes per identity (per client
// address in open mode), the server's total, and the disk's free space; each refusal stores nothing.
import { statfs } from 'node:fs/promises';
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { MediaTypes, Paths } from '../../src/protocol/index.js';
import { createApiKey } from '../../src/server/auth/api-keys.js';
import { parseServerConfig } from '../../src/server/index.js';
import { createResumeStore, upload, UploadError } from '../../src/client/node/index.js';
import { randomData, sha256Field } from '../helpers/digest.js';
import { call, create, type Reply } from '../helpers/http.js';
import { MiB, startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const GiB = 1024 * MiB;
const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.dispose()));
});

async function server(config: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  const s = await startTestServer(config);
  servers.push(s);
  return s;
}

function expectProblem(r: Reply, status: number, type: string): void {
  expect(r.status, r.text).toBe(status);
  expect(r.headers['content-type']).toBe(MediaTypes.problem);
  expect(r.body.type).toBe(`urn:ferry:problem:${type}`);
}

/** A create sent from a given loopback address (127.0.0.2 is another client to the server). */
function createFrom(localAddress: string, base: string, params: object, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify(params);
    const req = request(new URL(Paths.uploads, base), { method: 'POST', localAddress, agent: false, headers: { 'content-type': MediaTypes.json, ...headers } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (p: Buffer) => parts.push(p));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        resolve({ status: res.statusCode!, headers: res.headers, body: text ? JSON.parse(text) : text, text });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const abort = (base: string, uploadId: string) => call(base, 'DELETE', Paths.upload(uploadId));

async function finish(base: string, uploadId: string, data: Buffer, headers: Record<string, string> = {}): Promise<Reply> {
  return call(base, 'PUT', Paths.chunk(uploadId, 0), { headers: { ...headers, 'content-digest': sha256Field(data), 'content-length': data.length }, body: data });
}

describe('the per-identity reservation', () => {
  it('admits, of 20 concurrent creates, exactly those that fit; the rest are 429 quota-exceeded with Retry-After, and nothing of them is stored', async () => {
    const s = await server({ maxReservedBytes: 1000 });
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => create(s.url, { name: `f${i}`, size: 100 })));
    const created = replies.filter((r) => r.status === 201);
    expect(created).toHaveLength(10);
    for (const r of replies.filter((x) => x.status !== 201)) {
      expectProblem(r, 429, 'quota-exceeded');
      expect(r.headers['retry-after']).toBe('60');
      expect(r.body).toMatchObject({ maxReservedBytes: 1000, reservedBytes: expect.any(Number) });
    }
    expect(await s.ctx.meta.reservations('address:127.0.0.1')).toMatchObject({ uploads: 10, bytes: 1000 });
  });

  it('is given back when an upload is aborted or completes', async () => {
    const s = await server({ maxReservedBytes: 300 });
    const data = randomData(100);
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await create(s.url, { name: `f${i}`, size: 100 })).body.uploadId as string);
    expectProblem(await create(s.url, { name: 'more', size: 100 }), 429, 'quota-exceeded');

    expect((await abort(s.url, ids[0]!)).status).toBe(204);
    expect((await create(s.url, { name: 'after abort', size: 100 })).status).toBe(201);
    expectProblem(await create(s.url, { name: 'more', size: 1 }), 429, 'quota-exceeded');

    expect((await finish(s.url, ids[1]!, data)).body.complete).toBe(true);
    expect((await create(s.url, { name: 'after completion', size: 100 })).status).toBe(201);
  });

  it('refuses an upload larger than the reservation on its own as 413 file-too-large (it would never fit)', async () => {
    const s = await server({ maxReservedBytes: 1000 });
    const r = await create(s.url, { name: 'big', size: 1001 });
    expectProblem(r, 413, 'file-too-large');
    expect(r.body.maxReservedBytes).toBe(1000);
  });

  it('counts per identity in token mode: one identity at its limit leaves another unaffected', async () => {
    const s = await server({ auth: 'token', maxReservedBytes: 500, maxOpenUploads: 2 });
    const now = Date.now();
    const alice = { authorization: `Bearer ${(await createApiKey(s.ctx.meta, 'alice', 'user', '', now)).key}` };
    const bob = { authorization: `Bearer ${(await createApiKey(s.ctx.meta, 'bob', 'user', '', now)).key}` };
    const as = (h: Record<string, string>, size: number) => call(s.url, 'POST', Paths.uploads, { headers: { ...h, 'content-type': MediaTypes.json }, body: JSON.stringify({ name: 'x', size }) });
    expect((await as(alice, 400)).status).toBe(201);
    expectProblem(await as(alice, 200), 429, 'quota-exceeded');
    expect((await as(bob, 400)).status).toBe(201);
    expect((await as(alice, 100)).status).toBe(201);
    expectProblem(await as(alice, 0), 429, 'too-many-uploads');
    expect((await as(bob, 100)).status).toBe(201);
  });

  it('counts per client address in open mode (everyone there is "anonymous")', async () => {
    const s = await server({ maxReservedBytes: 500 });
    expect((await createFrom('127.0.0.1', s.url, { name: 'a', size: 500 })).status).toBe(201);
    expectProblem(await createFrom('127.0.0.1', s.url, { name: 'a', size: 1 }), 429, 'quota-exceeded');
    const other = await createFrom('127.0.0.2', s.url, { name: 'b', size: 500 });
    expect(other.status, other.text).toBe(201);
    expect((await s.ctx.meta.getUpload(other.body.uploadId))?.owner).toBe('anonymous');
  });
});

describe('the open-uploads limit', () => {
  it('answers the create past it 429 too-many-uploads with Retry-After; finishing one makes room', async () => {
    const s = await server({ maxOpenUploads: 3 });
    const data = randomData(10);
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await create(s.url, { name: `f${i}`, size: 10 })).body.uploadId as string);
    const r = await create(s.url, { name: 'one more', size: 10 });
    expectProblem(r, 429, 'too-many-uploads');
    expect(r.headers['retry-after']).toBe('60');
    expect(r.body).toMatchObject({ maxOpenUploads: 3, openUploads: 3 });
    expect(await s.ctx.meta.reservations('address:127.0.0.1')).toMatchObject({ uploads: 3 });

    expect((await finish(s.url, ids[0]!, data)).body.complete).toBe(true);
    expect((await create(s.url, { name: 'now', size: 10 })).status).toBe(201);
  });

  it('stops the Ferry client at once with the server\'s reason (no retry loop)', async () => {
    const s = await server({ maxOpenUploads: 1 });
    expect((await create(s.url, { name: 'held', size: 10 })).status).toBe(201);
    const dir = await tempDir('ferry-quota-');
    try {
      const path = join(dir, 'file.bin');
      await writeFile(path, randomData(1000));
      let creates = 0;
      const counting: typeof fetch = (url, init) => {
        if (init?.method === 'POST') creates++;
        return fetch(url, init);
      };
      const error = (await upload(path, { server: s.url, fetch: counting, resumeStore: createResumeStore({ dir: join(dir, 'state') }) }).result.catch((e: unknown) => e)) as UploadError;
      expect(error).toBeInstanceOf(UploadError);
      expect(error.reason).toBe('fatal');
      expect(error.message).toMatch(/1 uploads in progress/);
      expect(creates).toBe(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('room on disk', () => {
  it('answers 507 insufficient-storage, with Retry-After, to a declared size larger than the free space', async () => {
    const s = await server();
    const { bavail, bsize } = await statfs(s.dataDir);
    const free = bavail * bsize;
    // Larger than the volume has free, within every other limit (chunks may be as large as needed).
    const size = free + GiB;
    const big = { maxFileSize: 2 * size, maxReservedBytes: 2 * size, maxChunkSize: 2 * size };
    const s2 = await server(big);
    const r = await create(s2.url, { name: 'too big for the disk', size });
    expectProblem(r, 507, 'insufficient-storage');
    expect(r.headers['retry-after']).toBe('10');
    expect(r.body.availableBytes).toBeLessThan(size);
    expect(await s2.ctx.meta.reservations('address:127.0.0.1')).toMatchObject({ uploads: 0, totalBytes: 0 });
    expect((await create(s2.url, { name: 'small', size: 1000 })).status).toBe(201);
  });

  it('counts what uploads in progress have yet to receive against the free space, keeping --min-free-space', async () => {
    const probe = await server();
    const { bavail, bsize } = await statfs(probe.dataDir);
    const free = bavail * bsize;
    // Room for up to 10 GiB of new uploads (half the free space on a smaller disk): two uploads of 0.6
    // of it do not fit together, with 0.4 of it as slack for other tests' writes meanwhile.
    const room = Math.min(10 * GiB, Math.floor(free / 2));
    const each = Math.floor(room * 0.6);
    const s = await server({ minFreeSpace: free - room });
    const first = await create(s.url, { name: 'six', size: each });
    expect(first.status, first.text).toBe(201);
    const second = await create(s.url, { name: 'six more', size: each });
    expectProblem(second, 507, 'insufficient-storage');
    expect(second.body.detail).toMatch(/room on disk/);
    expect((await abort(s.url, first.body.uploadId)).status).toBe(204);
    expect((await create(s.url, { name: 'six again', size: each })).status).toBe(201);
  });

  it('answers 507 past --max-reserved-total, counting everyone', async () => {
    const s = await server({ maxReservedBytesTotal: 1000 });
    expect((await createFrom('127.0.0.1', s.url, { name: 'a', size: 600 })).status).toBe(201);
    const r = await createFrom('127.0.0.2', s.url, { name: 'b', size: 600 });
    expectProblem(r, 507, 'insufficient-storage');
    expect(r.headers['retry-after']).toBe('10');
    expectProblem(await create(s.url, { name: 'c', size: 1001 }), 413, 'file-too-large');
  });
});

describe('the limits in GET /capabilities, and their defaults', () => {
  it('lists the limits a client plans with', async () => {
    const s = await server({ maxOpenUploads: 7, maxReservedBytes: 12345, rateLimit: 50, rateBurst: 60 });
    const caps = (await call(s.url, 'GET', Paths.capabilities)).body;
    expect(caps).toMatchObject({ maxOpenUploads: 7, maxReservedBytes: 12345, rateLimit: 50, rateBurst: 60 });
    const off = await server({ rateLimit: 0 });
    expect((await call(off.url, 'GET', Paths.capabilities)).body.rateLimit).toBeUndefined();
  });

  it('leave a library upload of an ordinary file alone', async () => {
    // The shipped defaults (testLimits' tiny chunks and no rate limit put aside).
    const d = parseServerConfig({});
    const s = await server({ minChunkSize: d.minChunkSize, defaultChunkSize: d.defaultChunkSize, maxChunkSize: d.maxChunkSize, rateLimit: d.rateLimit });
    const dir = await tempDir('ferry-quota-');
    try {
      const path = join(dir, 'file.bin');
      const data = randomData(64 * MiB + 3);
      await writeFile(path, data);
      let refused = 0;
      const counting: typeof fetch = async (url, init) => {
        const res = await fetch(url, init);
        if (res.status === 429 || res.status === 507) refused++;
        return res;
      };
      const result = await upload(path, { server: s.url, fetch: counting, concurrency: 16, resumeStore: createResumeStore({ dir: join(dir, 'state') }) }).result;
      expect(result.size).toBe(data.length);
      expect(refused).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
