// Regressions found by review of the stream-upload (tus / IETF) server: each case failed before its fix.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { issueGrant } from '../../src/grants/index.js';
import { KiB, MiB, startTestServer, type TestServer } from '../helpers/server.js';
import { nativeStatus, TUS, tusCall, uploadIdOf } from './support.js';

const OCTETS = 'application/offset+octet-stream';
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let server: TestServer | undefined;
afterEach(async () => {
  await server?.dispose();
  server = undefined;
});

async function create(headers: Record<string, string | number>, body?: Buffer) {
  return tusCall(`${server!.url}/tus/`, 'POST', { 'tus-resumable': TUS, ...headers }, body);
}

function patch(url: string, offset: number, body: Buffer, headers: Record<string, string | number> = {}) {
  return tusCall(url, 'PATCH', { 'tus-resumable': TUS, 'content-type': OCTETS, 'upload-offset': offset, 'content-length': body.length, ...headers }, body);
}

async function fileBytes(uploadUrl: string): Promise<Buffer> {
  const status = await nativeStatus(server!.url, uploadIdOf(uploadUrl));
  expect(status.state).toBe('complete');
  const res = await fetch(status.fileUrl);
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

/** Asks again while the upload is locked (423), as tus clients do, for up to 10 s. */
async function whileLocked<T extends { status: number }>(ask: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const reply = await ask();
    if (reply.status !== 423 || Date.now() > deadline) return reply;
    await delay(20);
  }
}

/** A PATCH that sends the first `sent` of `declared` bytes and then stalls, its socket kept open. */
async function stalledPatch(url: string, offset: number, declared: number, sent: Buffer): Promise<net.Socket> {
  const u = new URL(url);
  const socket = net.connect(Number(u.port), u.hostname);
  await once(socket, 'connect');
  socket.write(
    `PATCH ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nTus-Resumable: ${TUS}\r\nContent-Type: ${OCTETS}\r\nUpload-Offset: ${offset}\r\nContent-Length: ${declared}\r\n\r\n`,
  );
  socket.write(sent);
  return socket;
}

describe('stream uploads after review', () => {
  it('a writer whose lease lapsed while its body stalled leaves the next writer’s staged bytes alone when it is cut', async () => {
    server = await startTestServer({ chunkTakeoverSeconds: 0.2, defaultChunkSize: 64 * KiB });
    const data = randomBytes(100 * KiB);
    const created = await create({ 'upload-defer-length': 1 });
    expect(created.status).toBe(201);
    const url = String(created.headers.location);
    // A: 100 of 1000 declared bytes, then silence. Its lease lapses; B (the client's retry) writes 300.
    const stalled = await stalledPatch(url, 0, 1000, data.subarray(0, 100));
    const b = await whileLocked(() => patch(url, 0, data.subarray(0, 300)));
    expect(b.status).toBe(204);
    expect(b.headers['upload-offset']).toBe('300');
    // A's connection dies now: what it staged must not replace what B recorded.
    stalled.destroy();
    await once(stalled, 'close');
    const rest = await whileLocked(() => patch(url, 300, data.subarray(300), { 'upload-length': data.length }));
    expect(rest.status, rest.text).toBe(204);
    expect(sha(await fileBytes(url))).toBe(sha(data));
  });

  it('a concatenation whose partial reads back corrupt in its last chunk makes no file', async () => {
    server = await startTestServer({ defaultChunkSize: 64 * KiB, fsync: false });
    const part = randomBytes(100 * KiB);
    const a = await create({ 'upload-length': part.length, 'upload-concat': 'partial' });
    expect((await patch(String(a.headers.location), 0, part)).status).toBe(204);
    // One byte of the partial's stored bytes changes behind the server's back, in its last chunk.
    const dir = join(server.ctx.config.dataDir, 'uploads');
    const [name] = (await readdir(dir)).filter((f) => f.startsWith(uploadIdOf(String(a.headers.location))));
    const stored = await readFile(join(dir, name!));
    stored[stored.length - 1] ^= 0xff;
    await writeFile(join(dir, name!), stored);
    const final = await create({ 'upload-concat': `final;${new URL(String(a.headers.location)).pathname}` });
    expect(final.status).toBe(500);
    const files = await (await fetch(`${server.url}/files`)).json();
    expect(files.files).toEqual([]);
  });

  it('an empty partial upload is finished at once, so a concatenation may name it', async () => {
    server = await startTestServer({ defaultChunkSize: 64 * KiB });
    const data = randomBytes(1000);
    const empty = await create({ 'upload-length': 0, 'upload-concat': 'partial' });
    const full = await create({ 'upload-length': data.length, 'upload-concat': 'partial' });
    expect((await patch(String(full.headers.location), 0, data)).status).toBe(204);
    const paths = [empty, full].map((r) => new URL(String(r.headers.location)).pathname);
    const final = await create({ 'upload-concat': `final;${paths.join(' ')}` });
    expect(final.status, final.text).toBe(201);
    expect(sha(await fileBytes(String(final.headers.location)))).toBe(sha(data));
  });

  it('a deferred length reserves what it has and the chunk it fills, not the most it may become', async () => {
    server = await startTestServer({ defaultChunkSize: 64 * KiB, maxReservedBytes: 1 * MiB });
    const created = await create({ 'upload-defer-length': 1 });
    expect(created.status, created.text).toBe(201);
    const data = randomBytes(200 * KiB);
    const done = await patch(String(created.headers.location), 0, data, { 'upload-length': data.length });
    expect(done.status, done.text).toBe(204);
    expect(sha(await fileBytes(String(created.headers.location)))).toBe(sha(data));
  });

  it('a grant pays for a deferred length what the upload turns out to be', async () => {
    const secret = 's'.repeat(40);
    server = await startTestServer({ auth: 'token', defaultChunkSize: 64 * KiB, grantSecrets: [{ kid: 'k1', secret }] });
    const grant = await issueGrant({ kid: 'k1', secret, identity: 'bob', expiresIn: '10m', scope: { upload: { maxBytes: 300 * KiB } } });
    const auth = { authorization: `Bearer ${grant}` };
    const first = await create({ ...auth, 'upload-defer-length': 1 });
    expect(first.status, first.text).toBe(201);
    const data = randomBytes(100 * KiB);
    expect((await patch(String(first.headers.location), 0, data, { ...auth, 'upload-length': data.length })).status).toBe(204);
    // 100 KiB of the 300 KiB are spent: a second upload of 200 KiB fits, one of 201 KiB does not.
    expect((await create({ ...auth, 'upload-length': 201 * KiB })).status).toBe(403);
    expect((await create({ ...auth, 'upload-length': 200 * KiB })).status).toBe(201);
  });

  it('creation-with-upload whose body fails its checksum leaves no upload behind', async () => {
    server = await startTestServer({ defaultChunkSize: 64 * KiB });
    const data = randomBytes(1000);
    const wrong = createHash('sha1').update('something else').digest('base64');
    const created = await create({ 'upload-length': data.length, 'content-type': OCTETS, 'upload-checksum': `sha1 ${wrong}` }, data);
    expect(created.status).toBe(460);
    expect((await server.ctx.meta.reservations('anonymous')).uploads).toBe(0);
    const badType = await create({ 'upload-length': data.length, 'content-type': 'text/plain' }, data);
    expect(badType.status).toBe(415);
    expect((await server.ctx.meta.reservations('anonymous')).totalBytes).toBe(0);
  });

  it('a chunked body longer than the length is refused, and the upload it filled still becomes its file', async () => {
    server = await startTestServer({ defaultChunkSize: 64 * KiB });
    const data = randomBytes(10);
    const created = await create({ 'upload-length': data.length });
    const url = new URL(String(created.headers.location));
    const reply = await new Promise<{ status: number }>((resolve, reject) => {
      const socket = net.connect(Number(url.port), url.hostname, () => {
        socket.write(`PATCH ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nTus-Resumable: ${TUS}\r\nContent-Type: ${OCTETS}\r\nUpload-Offset: 0\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`);
        socket.write(`f\r\n${Buffer.concat([data, Buffer.from('extra')]).toString('latin1')}\r\n0\r\n\r\n`, 'latin1');
      });
      let text = '';
      socket.on('data', (d) => (text += d.toString('latin1')));
      socket.on('error', reject);
      socket.on('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1]) }));
    });
    expect(reply.status).toBe(413);
    expect(sha(await fileBytes(url.href))).toBe(sha(data));
  });

  it('an IETF append cannot write into a tus final upload', async () => {
    server = await startTestServer({ defaultChunkSize: 64 * KiB });
    const data = randomBytes(100);
    const a = await create({ 'upload-length': data.length, 'upload-concat': 'partial' });
    expect((await patch(String(a.headers.location), 0, data)).status).toBe(204);
    // Made by hand as a crash mid-concatenation would leave it: a final upload still uploading.
    const owner = (await server.ctx.meta.getUpload(uploadIdOf(String(a.headers.location))))!;
    const finalId = 'final-left-over-by-a-crash';
    await server.ctx.meta.createUpload({ ...owner, id: finalId, role: 'file', concatOf: [owner.id], chunksReceived: 0, bytesReceived: 0, blobHandle: await server.ctx.blobs.begin(finalId, data.length, 1) });
    const ietf = await tusCall(`${server.url}/tus/${finalId}`, 'PATCH', { 'upload-draft-interop-version': 6, 'upload-offset': 0, 'upload-complete': '?1', 'content-type': 'application/partial-upload', 'content-length': data.length }, data);
    expect(ietf.status).toBe(403);
    expect((await server.ctx.meta.getUpload(finalId))!.chunksReceived).toBe(0);
  });

  it('the copy of a partial assembled for a concatenation that a crash cut short is freed with its tombstone', async () => {
    server = await startTestServer({ defaultChunkSize: 64 * KiB, tombstoneSeconds: 0, uploadTtlSeconds: 1 });
    const data = randomBytes(1000);
    const a = await create({ 'upload-length': data.length, 'upload-concat': 'partial' });
    expect((await patch(String(a.headers.location), 0, data)).status).toBe(204);
    // What a crash mid-concatenation leaves: the partial assembled to be read, then ended, the copy not yet freed.
    const part = (await server.ctx.meta.getUpload(uploadIdOf(String(a.headers.location))))!;
    const ref = await server.ctx.blobs.complete(part.blobHandle, part.fileId!, (await server.ctx.meta.listChunks(part.id)).map((c) => c.receipt));
    expect(await server.ctx.meta.transition(part.id, ['uploading'], 'aborted')).toBe(true);
    expect((await readdir(join(server.ctx.config.dataDir, 'files'))).includes(ref)).toBe(true);
    // Tombstones are kept until their upload's expiry (plus --tombstone, 0 here).
    const { expiresAt } = (await server.ctx.meta.getUpload(part.id))!;
    await expect.poll(() => Date.now() > expiresAt + 1, { interval: 20 }).toBe(true);
    await server.sweep();
    expect(await readdir(join(server.ctx.config.dataDir, 'files'))).not.toContain(ref);
  });

  it('partial uploads report no events: a parallel upload is one upload.created and one upload.completed', async () => {
    server = await startTestServer({ defaultChunkSize: 64 * KiB });
    const events: { type: string; uploadId: string | null }[] = [];
    server.ctx.listeners.push((e) => void events.push({ type: e.type, uploadId: e.data.uploadId ?? null }));
    const data = randomBytes(3000);
    const paths: string[] = [];
    for (const piece of [data.subarray(0, 1000), data.subarray(1000)]) {
      const p = await create({ 'upload-length': piece.length, 'upload-concat': 'partial' });
      expect((await patch(String(p.headers.location), 0, piece)).status).toBe(204);
      paths.push(new URL(String(p.headers.location)).pathname);
    }
    // One partial more, never used: it expires (or is terminated) without an event too.
    const spare = await create({ 'upload-length': 10, 'upload-concat': 'partial' });
    expect((await tusCall(String(spare.headers.location), 'DELETE', { 'tus-resumable': TUS })).status).toBe(204);
    const final = await create({ 'upload-concat': `final;${paths.join(' ')}` });
    expect(final.status).toBe(201);
    const finalId = uploadIdOf(String(final.headers.location));
    expect(events).toEqual([
      { type: 'upload.created', uploadId: finalId },
      { type: 'upload.completed', uploadId: finalId },
    ]);
  });

  it('tus answers carry Tus-Resumable also when refused before the route (401)', async () => {
    server = await startTestServer({ auth: 'token' });
    const refused = await create({ 'upload-length': 10 });
    expect(refused.status).toBe(401);
    expect(refused.headers['tus-resumable']).toBe(TUS);
  });

  it('Upload-Metadata values that are not UTF-8 text are refused, not changed', async () => {
    server = await startTestServer();
    const refused = await create({ 'upload-length': 10, 'upload-metadata': `filename ${Buffer.from([0xff, 0xfe, 0x41]).toString('base64')}` });
    expect(refused.status).toBe(400);
    expect(refused.body.type).toBe('urn:ferry:problem:invalid-metadata');
  });
});
