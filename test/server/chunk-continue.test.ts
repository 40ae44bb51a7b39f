// A chunk PUT cut part-way keeps what arrived (the file store stages in place): GET status lists it under
// `staged`, and a PUT with Ferry-Chunk-Offset sends only the rest, verified against the whole chunk's digest.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Headers, Paths } from '../../src/protocol/index.js';
import { randomData, sha256Field, sha256Hex } from '../helpers/digest.js';
import { call, chunkOf, create, download, putChunk, status } from '../helpers/http.js';
import { KiB, startTestServer, type TestServer } from '../helpers/server.js';

const cs = 256 * KiB;
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.dispose());

async function newUpload(data: Buffer): Promise<string> {
  const r = await create(server.url, { name: 'cut.bin', size: data.length, chunkSize: cs });
  expect(r.status).toBe(201);
  return r.body.uploadId as string;
}

/**
 * Sends `sent` bytes of chunk `index`'s body (declared whole) and cuts the connection once the server
 * has read them (cut sooner, bytes still on their way would be lost with the connection).
 */
async function cutChunk(uploadId: string, index: number, chunk: Buffer, sent: number, headers: Record<string, string> = {}): Promise<void> {
  const offset = Number(headers[Headers.chunkOffset] ?? 0);
  const received = () => server.ctx.metrics.get('ferry_chunk_bytes_received_total');
  const before = received();
  const req = request(new URL(Paths.chunk(uploadId, index), server.url), {
    method: 'PUT',
    agent: false,
    headers: { [Headers.contentDigest]: sha256Field(chunk), 'content-length': chunk.length - offset, ...headers },
  });
  let answered = false;
  req.on('error', () => {}); // the cut is ours
  req.on('response', () => (answered = true));
  req.flushHeaders();
  req.write(chunk.subarray(offset, offset + sent));
  try {
    await expect.poll(received, { timeout: 10_000 }).toBe(before + sent);
  } finally {
    req.destroy(); // also when the wait failed: no request is left open
  }
  expect(answered, 'the server answered a body it had not had whole').toBe(false);
}

/**
 * What the server keeps of chunk `index` once it has taken in the cut (it stages and records after
 * the connection goes): the first count above `above` that status lists.
 */
async function stagedOnceCut(uploadId: string, index: number, above = 0): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const s = await status(server.url, uploadId);
    const part = (s.body.staged as { index: number; bytes: number }[]).find((p) => p.index === index);
    if (part && part.bytes > above) return part.bytes;
    if (Date.now() > deadline) throw new Error(`chunk ${index} never showed as staged: ${JSON.stringify(s.body.staged)}`);
    await new Promise((r) => setImmediate(r));
  }
}

function putRest(uploadId: string, index: number, chunk: Buffer, from: number, digest = sha256Field(chunk)) {
  const rest = chunk.subarray(from);
  return call(server.url, 'PUT', Paths.chunk(uploadId, index), {
    headers: { [Headers.contentDigest]: digest, [Headers.chunkOffset]: String(from), 'content-length': rest.length },
    body: rest,
  });
}

describe('a chunk cut part-way', () => {
  it('is kept, listed in status, and continued from there to a byte-identical file', async () => {
    const data = randomData(2 * cs + 1000);
    const id = await newUpload(data);
    const chunk1 = chunkOf(data, cs, 1);
    await cutChunk(id, 1, chunk1, 100 * KiB);
    expect(await stagedOnceCut(id, 1)).toBe(100 * KiB);
    const s = await status(server.url, id);
    expect(s.body).toMatchObject({ missing: '0-2', chunksReceived: 0 });

    // Cut again, part-way through the rest: the count grows.
    await cutChunk(id, 1, chunk1, 50 * KiB, { [Headers.chunkOffset]: String(100 * KiB) });
    const kept = await stagedOnceCut(id, 1, 100 * KiB);
    expect(kept).toBe(150 * KiB);

    const r = await putRest(id, 1, chunk1, kept);
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ index: 1, size: cs, digest: sha256Field(chunk1), duplicate: false });
    expect((await status(server.url, id)).body.staged).toEqual([]);
    for (const i of [0, 2]) expect((await putChunk(server.url, id, i, chunkOf(data, cs, i))).status).toBe(201);
    const done = await status(server.url, id);
    expect(done.body.state).toBe('complete');
    const file = await download(done.body.fileUrl);
    expect(sha256Hex(file.bytes)).toBe(sha256Hex(data));
  });

  it('refuses an offset past what it keeps (409, its count), changing nothing', async () => {
    const data = randomData(2 * cs);
    const id = await newUpload(data);
    const chunk0 = chunkOf(data, cs, 0);
    await cutChunk(id, 0, chunk0, 64 * KiB);
    expect(await stagedOnceCut(id, 0)).toBe(64 * KiB);
    const r = await putRest(id, 0, chunk0, 96 * KiB);
    expect(r.status).toBe(409);
    expect(r.headers['content-type']).toContain('application/problem+json');
    expect(r.body).toMatchObject({ type: 'urn:ferry:problem:chunk-offset-mismatch', staged: 64 * KiB });
    // An offset on a chunk nothing was kept of.
    const other = await putRest(id, 1, chunkOf(data, cs, 1), 10);
    expect(other.status).toBe(409);
    expect(other.body).toMatchObject({ type: 'urn:ferry:problem:chunk-offset-mismatch', staged: 0 });
    expect((await status(server.url, id)).body).toMatchObject({ missing: '0-1', staged: [{ index: 0, bytes: 64 * KiB }] });
    expect((await putRest(id, 0, chunk0, 64 * KiB)).status).toBe(201);
  });

  it('takes a body that starts before what it keeps (an older status), skipping the bytes it has', async () => {
    const data = randomData(2 * cs);
    const id = await newUpload(data);
    const chunk0 = chunkOf(data, cs, 0);
    await cutChunk(id, 0, chunk0, 64 * KiB);
    expect(await stagedOnceCut(id, 0)).toBe(64 * KiB);
    expect((await putRest(id, 0, chunk0, 16 * KiB)).status).toBe(201);
    // The whole chunk (no offset), though part of it is kept: written whole.
    const chunk1 = chunkOf(data, cs, 1);
    await cutChunk(id, 1, chunk1, 100 * KiB);
    expect(await stagedOnceCut(id, 1)).toBe(100 * KiB);
    expect((await putChunk(server.url, id, 1, chunk1)).status).toBe(201);
    expect((await status(server.url, id)).body.staged).toEqual([]);
    const done = await status(server.url, id);
    expect(done.body.state).toBe('complete');
    expect(sha256Hex((await download(done.body.fileUrl)).bytes)).toBe(sha256Hex(data));
  });

  it('checks what it keeps, not the body\'s copy of it: a damaged kept byte fails the chunk, which starts over', async () => {
    const data = randomData(cs);
    const id = await newUpload(data);
    const damaged = Buffer.from(data);
    damaged[5] ^= 0xff;
    await cutChunk(id, 0, damaged, 32 * KiB, { [Headers.contentDigest]: sha256Field(data) });
    expect(await stagedOnceCut(id, 0)).toBe(32 * KiB);
    const r = await putRest(id, 0, data, 16 * KiB);
    expect(r.status).toBe(422);
    expect((await status(server.url, id)).body).toMatchObject({ missing: '0', staged: [] });
    expect((await putChunk(server.url, id, 0, data)).status).toBe(201);
  });

  it('keeps what it kept before when a continuation is refused for its length', async () => {
    const data = randomData(cs);
    const id = await newUpload(data);
    await cutChunk(id, 0, data, 40 * KiB);
    expect(await stagedOnceCut(id, 0)).toBe(40 * KiB);
    const longer = Buffer.concat([data.subarray(40 * KiB), Buffer.from('extra')]);
    const r = await call(server.url, 'PUT', Paths.chunk(id, 0), {
      headers: { [Headers.contentDigest]: sha256Field(data), [Headers.chunkOffset]: String(40 * KiB), 'content-length': longer.length },
      body: longer,
    });
    expect(r.status).toBe(413);
    expect((await status(server.url, id)).body).toMatchObject({ missing: '0', staged: [{ index: 0, bytes: 40 * KiB }] });
    expect((await putRest(id, 0, data, 40 * KiB)).status).toBe(201);
  });

  it('refuses an offset that is not inside the chunk (400)', async () => {
    const data = randomData(cs);
    const id = await newUpload(data);
    for (const bad of [String(cs), '-1', 'abc', '1.5', '']) {
      const r = await call(server.url, 'PUT', Paths.chunk(id, 0), {
        headers: { [Headers.contentDigest]: sha256Field(data), [Headers.chunkOffset]: bad, 'content-length': 0 },
        body: Buffer.alloc(0),
      });
      expect(r.status, bad).toBe(400);
      expect(r.body.type, bad).toBe('urn:ferry:problem:invalid-chunk-offset');
    }
    expect((await status(server.url, id)).body).toMatchObject({ missing: '0', chunksReceived: 0, staged: [] });
  });

  it('drops what it kept when the whole chunk fails its digest, so the chunk starts over', async () => {
    const data = randomData(cs);
    const id = await newUpload(data);
    const damaged = Buffer.from(data);
    damaged[10] ^= 0xff; // a flipped byte among those kept
    await cutChunk(id, 0, damaged, 32 * KiB, { [Headers.contentDigest]: sha256Field(data) });
    expect(await stagedOnceCut(id, 0)).toBe(32 * KiB);
    const r = await putRest(id, 0, data, 32 * KiB);
    expect(r.status).toBe(422);
    expect(r.body.type).toBe('urn:ferry:problem:digest-mismatch');
    expect((await status(server.url, id)).body).toMatchObject({ missing: '0', staged: [] });
    expect((await putChunk(server.url, id, 0, data)).status).toBe(201);
  });

  it('keeps nothing of a body refused for its length', async () => {
    const data = randomData(cs);
    const id = await newUpload(data);
    // Chunked encoding, so the body can end short without a Content-Length to refuse up front.
    const r = await new Promise<number>((resolve, reject) => {
      const req = request(new URL(Paths.chunk(id, 0), server.url), { method: 'PUT', agent: false, headers: { [Headers.contentDigest]: sha256Field(data) } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('error', reject);
      req.end(data.subarray(0, 1000));
    });
    expect(r).toBe(400);
    expect((await status(server.url, id)).body).toMatchObject({ missing: '0', staged: [] });
  });

  it('a writer taken over while it stalled writes nothing of what it held when its connection finally breaks', async () => {
    const quick = await startTestServer({ chunkTakeoverSeconds: 0.2 });
    let w1: ReturnType<typeof request> | undefined;
    try {
      const data = randomData(cs);
      const id = (await create(quick.url, { name: 'late.bin', size: data.length, chunkSize: cs })).body.uploadId as string;
      // W1 sends 100 KiB of other bytes and then nothing: they wait in the store's write batch.
      const other = randomData(100 * KiB);
      w1 = request(new URL(Paths.chunk(id, 0), quick.url), {
        method: 'PUT',
        agent: false,
        headers: { [Headers.contentDigest]: sha256Field(data), 'content-length': data.length },
      });
      w1.on('error', () => {});
      w1.flushHeaders();
      await new Promise<void>((resolve) => w1!.write(other, () => resolve()));
      await expect.poll(() => quick.ctx.metrics.get('ferry_chunk_bytes_received_total')).toBe(other.length);
      // W2 takes the chunk over once W1's lease lapsed (until then: 409, as a client retries), stores
      // it, and the upload completes.
      const put = () => call(quick.url, 'PUT', Paths.chunk(id, 0), { headers: { [Headers.contentDigest]: sha256Field(data), 'content-length': data.length }, body: data });
      let w2 = await put();
      for (let i = 0; i < 50 && w2.status === 409; i++) w2 = await put();
      expect(w2.status).toBe(201);
      expect(w2.body.complete).toBe(true);
      // Now W1's connection breaks: what it held must not land in the file.
      w1.destroy();
      await expect.poll(() => quick.ctx.chunkWrites.size).toBe(0);
      expect(sha256Hex((await download(w2.body.fileUrl)).bytes)).toBe(sha256Hex(data));
    } finally {
      w1?.destroy();
      await quick.dispose();
    }
  });
});
