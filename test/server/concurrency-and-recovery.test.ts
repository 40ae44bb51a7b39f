// Concurrent writers of one chunk, digest retries, server restarts (clean and kill -9) and expiry.
import { request } from 'node:http';
import { readdir } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { Headers, Paths } from '../../src/protocol/index.js';
import { randomData, sha256Field, sha256Hex } from '../helpers/digest.js';
import { call, chunkOf, create, download, putChunk, sendChunks, status } from '../helpers/http.js';
import { KiB, MiB, spawnServer, startTestServer, tempDir, type TestServer } from '../helpers/server.js';

const cs = 64 * KiB;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function server(config = {}): Promise<TestServer> {
  const s = await startTestServer(config);
  cleanups.push(() => s.dispose());
  return s;
}

describe('two PUTs of one chunk at once', () => {
  it('with different bodies: one is written, the other is told to retry, the stored chunk is intact', async () => {
    const s = await server();
    const data = randomData(2 * cs);
    const { uploadId } = (await create(s.url, { name: 'race', size: data.length, chunkSize: cs })).body;
    const mine = chunkOf(data, cs, 0);
    const theirs = randomData(cs);

    // The first writer sends half its body and holds; the second arrives while it holds the chunk.
    let sendRest!: () => void;
    const first = new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = request(new URL(Paths.chunk(uploadId, 0), s.url), {
        method: 'PUT',
        headers: { [Headers.contentDigest]: sha256Field(mine), 'content-length': cs },
        agent: false,
      }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
      });
      req.on('error', reject);
      req.write(mine.subarray(0, cs / 2));
      sendRest = () => req.end(mine.subarray(cs / 2));
    });
    await expect.poll(() => s.ctx.chunkWrites.size).toBe(1);
    const second = await putChunk(s.url, uploadId, 0, theirs);
    expect(second.status).toBe(409);
    expect(second.body.type).toBe('urn:ferry:problem:chunk-in-progress');
    expect(second.headers['retry-after']).toBe('1');
    sendRest();
    expect((await first).status).toBe(201);
    // The loser's retry now meets a stored chunk with another digest: a conflict, not an overwrite.
    expect((await putChunk(s.url, uploadId, 0, theirs)).status).toBe(409);
    const done = await putChunk(s.url, uploadId, 1, chunkOf(data, cs, 1));
    expect(sha256Hex((await download(done.body.fileUrl)).bytes)).toBe(sha256Hex(data));
  });

  it('a PUT whose body stalled gives way to a retry of the same chunk once its lease lapses; it writes nothing more', async () => {
    const s = await server({ chunkTakeoverSeconds: 0.2 });
    const data = randomData(2 * cs);
    const { uploadId } = (await create(s.url, { name: 'stalled', size: data.length, chunkSize: cs })).body;
    const mine = chunkOf(data, cs, 0);
    // A client sends half the chunk, then its connection goes silent without a reset.
    let sendRest!: () => void;
    const stalled = new Promise<string>((resolve) => {
      const req = request(new URL(Paths.chunk(uploadId, 0), s.url), {
        method: 'PUT',
        headers: { [Headers.contentDigest]: sha256Field(mine), 'content-length': cs },
        agent: false,
      });
      req.on('error', (e) => resolve((e as NodeJS.ErrnoException).code ?? 'error'));
      req.on('response', (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve(`HTTP ${res.statusCode} ${JSON.parse(text).type}`));
      });
      req.write(mine.subarray(0, cs / 2));
      sendRest = () => req.end(mine.subarray(cs / 2));
    });
    await expect.poll(() => s.ctx.chunkWrites.size).toBe(1);
    // Its retry is told to wait while the lease is fresh, then takes over once it has lapsed.
    await expect.poll(async () => (await putChunk(s.url, uploadId, 0, mine)).status, { interval: 50, timeout: 10_000 }).toBe(201);
    // The stalled writer wakes up: its lease is gone, so it stops before writing another byte.
    sendRest();
    expect(await stalled).toBe('HTTP 409 urn:ferry:problem:chunk-in-progress');
    expect(s.ctx.chunkWrites.size).toBe(0);
    // A different body never takes over: that is a conflict, not a retry.
    expect((await putChunk(s.url, uploadId, 0, randomData(cs))).status).toBe(409);
    const done = await putChunk(s.url, uploadId, 1, chunkOf(data, cs, 1));
    expect(sha256Hex((await download(done.body.fileUrl)).bytes)).toBe(sha256Hex(data));
  });

  it('with the same body many times in parallel: exactly one write, the file is right', async () => {
    const s = await server();
    const data = randomData(cs);
    const { uploadId } = (await create(s.url, { name: 'same', size: data.length, chunkSize: cs })).body;
    const replies = await Promise.all(Array.from({ length: 8 }, () => putChunk(s.url, uploadId, 0, data)));
    expect(replies.filter((r) => r.status === 201)).toHaveLength(1);
    for (const r of replies) expect([200, 201, 409]).toContain(r.status);
    expect(s.ctx.metrics.get('ferry_chunks_stored_total')).toBe(1);
    const st = await status(s.url, uploadId);
    expect(st.body.state).toBe('complete');
    expect(sha256Hex((await download(st.body.fileUrl)).bytes)).toBe(sha256Hex(data));
  });
});

describe('digest mismatch', () => {
  it('is rejected, then the correct retry is stored', async () => {
    const s = await server();
    const data = randomData(2 * cs);
    const { uploadId } = (await create(s.url, { name: 'flip', size: data.length, chunkSize: cs })).body;
    const flipped = Buffer.from(chunkOf(data, cs, 0));
    flipped[100]! ^= 1;
    const bad = await putChunk(s.url, uploadId, 0, flipped, sha256Field(chunkOf(data, cs, 0)));
    expect(bad.status).toBe(422);
    expect((await status(s.url, uploadId)).body.missing).toBe('0-1');
    expect((await putChunk(s.url, uploadId, 0, chunkOf(data, cs, 0))).status).toBe(201);
    const done = await putChunk(s.url, uploadId, 1, chunkOf(data, cs, 1));
    expect(sha256Hex((await download(done.body.fileUrl)).bytes)).toBe(sha256Hex(data));
  });
});

describe('restarts', () => {
  it('a new server over the same data directory continues the upload', async () => {
    const dataDir = await tempDir();
    const data = randomData(8 * cs);
    const one = await startTestServer({ dataDir });
    const { uploadId } = (await create(one.url, { name: 'restart', size: data.length, chunkSize: cs })).body;
    await sendChunks(one.url, uploadId, data, cs, [0, 2, 4, 6]);
    await one.close();
    const two = await server({ dataDir });
    expect((await status(two.url, uploadId)).body).toMatchObject({ state: 'uploading', chunksReceived: 4, missing: '1,3,5,7' });
    const replies = await sendChunks(two.url, uploadId, data, cs, [1, 3, 5, 7]);
    const done = replies.find((r) => r.body.complete)!;
    expect(sha256Hex((await download(done.body.fileUrl)).bytes)).toBe(sha256Hex(data));
  });

  it('after kill -9 every acknowledged chunk is still there', async () => {
    const dataDir = await tempDir();
    const data = randomData(16 * MiB);
    const chunk = 1 * MiB;
    const first = await spawnServer(['--data-dir', dataDir, '--min-chunk-size', '1KiB']);
    cleanups.push(() => first.kill());
    const { uploadId } = (await create(first.url, { name: 'kill', size: data.length, chunkSize: chunk })).body;
    const acked: number[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await putChunk(first.url, uploadId, i, chunkOf(data, chunk, i));
      if (r.status === 201) acked.push(i);
    }
    // A chunk half-sent when the server dies must not count.
    const halfSent = new Promise<void>((resolve) => {
      const req = request(new URL(Paths.chunk(uploadId, 8), first.url), {
        method: 'PUT',
        headers: { [Headers.contentDigest]: sha256Field(chunkOf(data, chunk, 8)), 'content-length': chunk },
        agent: false,
      });
      req.on('error', () => resolve());
      req.on('response', () => resolve());
      req.write(chunkOf(data, chunk, 8).subarray(0, chunk / 2), () => void first.kill());
    });
    await halfSent;
    await first.kill();
    const second = await spawnServer(['--data-dir', dataDir, '--min-chunk-size', '1KiB']);
    cleanups.push(() => second.kill());
    const st = await status(second.url, uploadId);
    expect(acked).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(st.body).toMatchObject({ state: 'uploading', chunksReceived: 8, missing: '8-15' });
    const replies = await sendChunks(second.url, uploadId, data, chunk, [...Array(7).keys()].map((i) => i + 9));
    expect(replies.map((r) => r.status)).toEqual(Array(7).fill(201));
    // Chunk 8's write lease, taken by the killed server, lapses after --chunk-takeover (2 s); until then
    // its retry is told chunk-in-progress (409, Retry-After: 1), and retried, as a client does.
    let last: Awaited<ReturnType<typeof putChunk>> | undefined;
    await expect
      .poll(async () => {
        last = await putChunk(second.url, uploadId, 8, chunkOf(data, chunk, 8));
        if (last.status !== 201 && last.body.type !== 'urn:ferry:problem:chunk-in-progress') throw new Error(`chunk 8: HTTP ${last.status} ${last.text}`);
        return last.status;
      }, { interval: 200, timeout: 10_000 })
      .toBe(201);
    expect(last!.body.complete).toBe(true);
    expect(sha256Hex((await download(last!.body.fileUrl)).bytes)).toBe(sha256Hex(data));
  });
});

describe('expiry', () => {
  it('an idle upload expires: bytes and chunk records freed, status says expired, PUT gets 410', async () => {
    const s = await server({ uploadTtlSeconds: 0.2 });
    const data = randomData(2 * cs);
    const { uploadId } = (await create(s.url, { name: 'old', size: data.length, chunkSize: cs })).body;
    await putChunk(s.url, uploadId, 0, chunkOf(data, cs, 0));
    // Wait until the upload's own expiry time has passed (the server's clock decides), then sweep.
    const expiresAt = Date.parse((await status(s.url, uploadId)).body.expiresAt);
    await expect.poll(() => Date.now() > expiresAt, { interval: 20 }).toBe(true);
    expect(await s.sweep()).toMatchObject({ expired: 1 });
    expect(await readdir(`${s.dataDir}/uploads`)).toEqual([]);
    expect(await s.ctx.meta.listChunks(uploadId)).toEqual([]);
    expect((await status(s.url, uploadId)).body.state).toBe('expired');
    const r = await putChunk(s.url, uploadId, 1, chunkOf(data, cs, 1));
    expect(r.status).toBe(410);
    expect(r.body.type).toBe('urn:ferry:problem:upload-expired');
  });

  it('tombstones are purged after their retention, then status is 404', async () => {
    const s = await server({ uploadTtlSeconds: 0.1, tombstoneSeconds: 0 });
    const { uploadId } = (await create(s.url, { name: 'old', size: 10, chunkSize: cs })).body;
    const expiresAt = Date.parse((await status(s.url, uploadId)).body.expiresAt);
    await expect.poll(() => Date.now() > expiresAt + 1, { interval: 20 }).toBe(true);
    await s.sweep();
    await s.sweep();
    expect((await call(s.url, 'GET', Paths.upload(uploadId))).status).toBe(404);
  });
});
