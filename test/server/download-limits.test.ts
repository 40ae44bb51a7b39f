// Download limits: concurrent downloads per identity (429 too-many-downloads with Retry-After), and
// the response-buffer budget every download reads into (bounded, waited for, all given back).
import { createHash, randomBytes } from 'node:crypto';
import { get, type ClientRequest, type IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { MediaTypes, Paths } from '../../src/protocol/index.js';
import { createApiKey } from '../../src/server/auth/api-keys.js';
import { downloadLimits } from '../../src/server/limits/downloads.js';
import { waitFor } from '../chaos/support/wait.js';
import { sha256Field } from '../helpers/digest.js';
import { call } from '../helpers/http.js';
import { KiB, MiB, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer | undefined;
const open: ClientRequest[] = [];
afterEach(async () => {
  for (const req of open.splice(0)) req.destroy();
  await server?.dispose();
  server = undefined;
});

/** Larger than what loopback socket buffers take, so a download its client does not read stays open. */
const bigSize = 48 * MiB;
const chunkSize = 16 * MiB;

async function uploadFile(data: Buffer, headers: Record<string, string> = {}): Promise<string> {
  const created = await call(server!.url, 'POST', Paths.uploads, {
    headers: { ...headers, 'content-type': MediaTypes.json },
    body: JSON.stringify({ name: 'big.bin', size: data.length, chunkSize }),
  });
  expect(created.status, created.text).toBe(201);
  let fileId = '';
  for (let i = 0; i * chunkSize < data.length; i++) {
    const bytes = data.subarray(i * chunkSize, (i + 1) * chunkSize);
    const put = await call(server!.url, 'PUT', Paths.chunk(created.body.uploadId, i), {
      headers: { ...headers, 'content-digest': sha256Field(bytes), 'content-length': bytes.length },
      body: bytes,
    });
    expect(put.status, put.text).toBe(201);
    fileId = put.body.fileId ?? '';
  }
  return fileId;
}

/** Starts a download and resolves with its response head; the body is left unread (paused). */
function startDownload(fileId: string, headers: Record<string, string> = {}): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = get(new URL(Paths.file(fileId), server!.url), { headers, agent: false }, (res) => {
      res.pause();
      resolve(res);
    });
    req.on('error', reject);
    open.push(req);
  });
}

function bodyOf(res: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    res.on('data', (p: Buffer) => parts.push(p));
    res.on('end', () => resolve(Buffer.concat(parts)));
    res.on('error', reject);
    res.resume();
  });
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('concurrent downloads per identity', () => {
  it('answers one download past the cap 429 with Retry-After, while another identity is served; a finished download frees its slot', async () => {
    server = await startTestServer({ auth: 'token', maxDownloadsPerIdentity: 2 });
    const now = Date.now();
    const alice = { authorization: `Bearer ${(await createApiKey(server.ctx.meta, 'alice', 'user', '', now)).key}` };
    const bob = { authorization: `Bearer ${(await createApiKey(server.ctx.meta, 'bob', 'user', '', now)).key}` };
    const big = await uploadFile(randomBytes(bigSize), alice);
    const small = Buffer.from('bob owns this');
    const bobs = await uploadFile(small, bob);

    const held = [await startDownload(big, alice), await startDownload(big, alice)];
    expect(held.map((r) => r.statusCode)).toEqual([200, 200]);

    const third = await call(server.url, 'GET', Paths.file(big), { headers: alice });
    expect(third.status, third.text).toBe(429);
    expect(third.headers['retry-after']).toBe('1');
    expect(third.body).toMatchObject({ type: 'urn:ferry:problem:too-many-downloads', status: 429, limit: 2 });
    // Asking (HEAD, a 304) is not downloading.
    expect((await call(server.url, 'HEAD', Paths.file(big), { headers: alice })).status).toBe(200);
    const head = await call(server.url, 'HEAD', Paths.file(big), { headers: alice });
    expect((await call(server.url, 'GET', Paths.file(big), { headers: { ...alice, 'if-none-match': String(head.headers.etag) } })).status).toBe(304);

    const other = await call(server.url, 'GET', Paths.file(bobs), { headers: bob });
    expect(other.status).toBe(200);
    expect(other.text).toBe(small.toString());
    expect(server.ctx.metrics.get('ferry_limits_hit_total', { kind: 'downloads' })).toBe(1);

    held[0]!.destroy();
    await waitFor('the left download to free its slot', () => downloadLimits(server!.ctx).slots.total() === 1, { timeoutMs: 10_000 });
    const again = await call(server.url, 'GET', Paths.file(big), { headers: { ...alice, range: 'bytes=0-99' } });
    expect(again.status).toBe(206);
  });
});

describe('response-buffer budget', () => {
  it('holds downloads within the budget (making them wait), gives every buffer back when the readers leave, and serves whole files', async () => {
    const budget = 64 * KiB;
    server = await startTestServer({ responseBufferBudget: budget, maxDownloadsPerIdentity: 100 });
    const data = randomBytes(bigSize);
    const fileId = await uploadFile(data);
    const { buffers } = downloadLimits(server.ctx);

    // Eight readers that read nothing: once their sockets are full each pins its last piece, and
    // the budget (four of the smallest buffers) leaves the rest waiting rather than allocating.
    await Promise.all(Array.from({ length: 8 }, () => startDownload(fileId)));
    await waitFor('downloads to wait for buffers', () => buffers.stats().waiting > 0, { timeoutMs: 20_000 });
    const during = buffers.stats();
    expect(during.lent + during.kept).toBeLessThanOrEqual(budget);

    for (const req of open.splice(0)) req.destroy();
    await waitFor('every buffer to come back', () => {
      const s = buffers.stats();
      return s.lent === 0 && s.lentBuffers === 0 && s.waiting === 0 && downloadLimits(server!.ctx).slots.total() === 0;
    }, { timeoutMs: 10_000 });

    // A whole download through the small budget is byte-identical.
    const whole = await startDownload(fileId);
    expect(sha256(await bodyOf(whole))).toBe(sha256(data));
    expect(buffers.stats().lent).toBe(0);
  });
});
