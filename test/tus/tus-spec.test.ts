// The tus 1.0.0 specification (https://tus.io/protocols/resumable-upload), request by request over raw
// HTTP: discovery, version negotiation, creation (with upload, deferred length), HEAD and PATCH, the
// checksum, termination, expiration and concatenation extensions, X-HTTP-Method-Override, and what a
// cut connection leaves behind. Ferry maps the byte stream onto 8 MiB chunks, so the cases put offsets
// on both sides of chunk boundaries. Run on the file blob store, and on S3 when a service is configured.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type FerryServer } from '../../src/server/index.js';
import { openSqliteMetaStore } from '../../src/stores/sqlite/meta-store.js';
import { openS3BlobStore } from '../../src/stores/s3/blob-store.js';
import { dropBuckets, freshBucket, s3Required, s3StoreOptions, testS3Client } from '../helpers/s3.js';
import { MiB, startTestServer, tempDir, testLimits } from '../helpers/server.js';
import { expectFerryDownload, expectServedFile, nativeStatus, parseTusMetadata, TUS, tusCall, tusMetadata, uploadIdOf, type TusReply } from './support.js';

const CHUNK = 8 * MiB;
const SIZE = 20 * MiB; // two whole chunks and half of a third
const data = randomBytes(SIZE);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const whole = { size: SIZE, sha256: sha(data) };

const OCTETS = 'application/offset+octet-stream';

interface Backend {
  name: string;
  skip: string | null;
  start(): Promise<{ server: FerryServer; close(): Promise<void>; bucket?: string }>;
}

const backends: Backend[] = [
  {
    name: 'file blob store',
    skip: null,
    async start() {
      // At most 1000 chunks: a deferred-length upload may become at most chunk size x max chunks (8 GiB here).
      const server = await startTestServer({ defaultChunkSize: CHUNK, maxChunks: 1000 });
      return { server, close: () => server.dispose() };
    },
  },
  {
    name: 'S3 blob store',
    skip: s3Required,
    async start() {
      const dir = await tempDir('ferry-tus-s3-');
      const bucket = await freshBucket();
      const meta = await openSqliteMetaStore(join(dir, 'meta.sqlite'));
      const blobs = await openS3BlobStore(s3StoreOptions(bucket, 'ferry'));
      const server = await startServer(
        { port: 0, host: '127.0.0.1', logLevel: 'silent', ...testLimits, defaultChunkSize: CHUNK, maxChunks: 1000, dataDir: dir },
        { meta, blobs },
      );
      return {
        server,
        bucket,
        close: async () => {
          await server.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  },
];

afterAll(async () => {
  if (!s3Required) await dropBuckets();
});

describe.each(backends)('tus 1.0.0 on the $name', (backend) => {
  let server: FerryServer;
  let bucket: string | undefined;
  let close: () => Promise<void>;
  let dir: string;

  beforeAll(async () => {
    if (backend.skip) return;
    ({ server, close, bucket } = await backend.start());
    dir = await tempDir('ferry-tus-spec-');
  });
  afterAll(async () => {
    await close?.();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  const endpoint = () => `${server.url}/tus/`;

  /**
   * One tus request. Every response but OPTIONS and 412 (whose example in the specification has only
   * Tus-Version) must carry Tus-Resumable: 1.0.0, so every reply is checked here.
   */
  async function tus(method: string, url: string, headers: Record<string, string | number> = {}, body?: Buffer): Promise<TusReply> {
    const h: Record<string, string | number> = { 'Tus-Resumable': TUS, ...headers };
    for (const [k, v] of Object.entries(h)) if (v === '') delete h[k]; // '' = leave the header out
    if (body !== undefined && h['Content-Length'] === undefined) h['Content-Length'] = body.length;
    const r = await tusCall(url, method, h, body);
    if (method !== 'OPTIONS' && r.status !== 412) {
      expect(r.headers['tus-resumable'], `${method} ${url} → ${r.status}: Tus-Resumable on every response`).toBe(TUS);
    }
    return r;
  }

  /** POST /tus/ → 201; the upload's absolute URL. */
  async function create(headers: Record<string, string | number>, body?: Buffer): Promise<{ url: string; reply: TusReply }> {
    const reply = await tus('POST', endpoint(), headers, body);
    expect(reply.status, reply.text).toBe(201);
    expect(reply.headers.location, 'Location').toBeTruthy();
    return { url: new URL(String(reply.headers.location), endpoint()).toString(), reply };
  }

  const head = (url: string) => tus('HEAD', url);
  const offsetOf = async (url: string) => {
    const h = await head(url);
    expect(h.status, h.text).toBe(200);
    return Number(h.headers['upload-offset']);
  };
  const patch = (url: string, offset: number, body: Buffer, headers: Record<string, string | number> = {}) =>
    tus('PATCH', url, { 'Upload-Offset': offset, 'Content-Type': OCTETS, ...headers }, body);

  /** A PATCH answered 204 at the new offset. */
  async function patchOk(url: string, offset: number, body: Buffer, headers: Record<string, string | number> = {}): Promise<number> {
    const r = await patch(url, offset, body, headers);
    expect(r.status, r.text).toBe(204);
    expect(Number(r.headers['upload-offset'])).toBe(offset + body.length);
    return offset + body.length;
  }

  function expectProblem(r: TusReply, status: number, type: string): void {
    expect(r.status, r.text).toBe(status);
    expect(String(r.headers['content-type'])).toMatch(/^application\/problem\+json/);
    expect(r.body.type).toBe(`urn:ferry:problem:${type}`);
  }

  const plainUpload = (extra: Record<string, string | number> = {}) => create({ 'Upload-Length': SIZE, 'Upload-Metadata': tusMetadata({ filename: 'spec.bin' }), ...extra });

  /** The upload is complete and is exactly `data`; on the file store `ferry download` verifies every chunk too. */
  async function expectFile(url: string, expected = whole): Promise<void> {
    await expectServedFile(server.url, uploadIdOf(url), expected);
  }
  async function expectDownload(url: string, expected = whole): Promise<void> {
    const status = await nativeStatus(server.url, uploadIdOf(url));
    const dest = join(dir, `${uploadIdOf(url)}.bin`);
    cleanups.push(() => rm(dest, { force: true }));
    await expectFerryDownload(status.fileUrl, dest, expected);
  }

  /** S3: the staging objects of `uploadId` (bytes of a chunk written across requests). */
  async function stagingObjects(uploadId: string): Promise<string[]> {
    const page = await testS3Client().send(new ListObjectsV2Command({ Bucket: bucket!, Prefix: 'ferry' }));
    return (page.Contents ?? []).map((o) => o.Key!).filter((k) => k.includes(`staged/${uploadId}/`));
  }

  /**
   * Sends PATCH headers for `body` from `offset`, then `send` bytes of it, then destroys the socket: the
   * server has every one of those bytes (written to the kernel before the close, which sends them and a
   * FIN), and never the rest.
   */
  async function cutPatch(url: string, offset: number, body: Buffer, send: number): Promise<void> {
    const u = new URL(url);
    const socket = net.connect({ host: u.hostname, port: Number(u.port) });
    socket.on('error', () => undefined); // an early answer and close is seen by the HEAD that follows
    await once(socket, 'connect');
    socket.write(
      `PATCH ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nTus-Resumable: ${TUS}\r\nUpload-Offset: ${offset}\r\n` +
        `Content-Type: ${OCTETS}\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    await new Promise<void>((resolve) => socket.write(body.subarray(0, send), () => resolve()));
    socket.destroy();
  }

  /**
   * After a cut: asks where the upload stands and sends the rest from there, as a tus client does. While
   * the server is still winding the cut request up, the answer can be 423 (its writer holds the upload)
   * or 409 (the offset moved between HEAD and PATCH): asked again after a short back-off, for up to 30 s.
   * Returns the offset the finishing PATCH was accepted at.
   */
  async function finishAfterCut(url: string, all: Buffer): Promise<number> {
    const deadline = Date.now() + 30_000;
    const seen: string[] = [];
    for (;;) {
      const from = await offsetOf(url);
      const r = await patch(url, from, all.subarray(from));
      seen.push(`${from}:${r.status}`);
      if (r.status === 204) {
        if (process.env.FERRY_TUS_TRACE) console.info(`after the cut: ${seen.join(', ')}`);
        expect(Number(r.headers['upload-offset'])).toBe(all.length);
        return from;
      }
      expect([409, 423], `PATCH at ${from} after a cut: ${r.status} ${r.text}`).toContain(r.status);
      if (Date.now() > deadline) throw new Error(`the upload stayed busy after the cut: ${seen.join(', ')}`);
      await delay(20);
    }
  }

  describe.skipIf(backend.skip)('requests', () => {
    describe('discovery and versions', () => {
      it('OPTIONS answers 204 with Tus-Version, Tus-Extension, Tus-Max-Size and Tus-Checksum-Algorithm', async () => {
        for (const url of [endpoint(), `${server.url}/tus/${'A'.repeat(24)}`]) {
          const r = await tusCall(url, 'OPTIONS');
          expect(r.status, `${url}: ${r.text}`).toBe(204);
          const list = (h: unknown) => String(h ?? '').split(',').map((s) => s.trim()).filter(Boolean);
          expect(list(r.headers['tus-version'])).toContain('1.0.0');
          expect(list(r.headers['tus-extension'])).toEqual(
            expect.arrayContaining(['creation', 'creation-with-upload', 'creation-defer-length', 'termination', 'expiration', 'checksum', 'concatenation']),
          );
          const max = Number(r.headers['tus-max-size']);
          expect(Number.isSafeInteger(max) && max > 0, `Tus-Max-Size ${r.headers['tus-max-size']}`).toBe(true);
          expect(list(r.headers['tus-checksum-algorithm'])).toEqual(expect.arrayContaining(['sha1', 'md5', 'sha256']));
        }
      });

      it('a POST without Tus-Resumable, or with a version it does not speak, is 412 with Tus-Version and creates nothing', async () => {
        for (const version of ['', '0.2.2', '2.0.0']) {
          const r = await tus('POST', endpoint(), { 'Tus-Resumable': version, 'Upload-Length': 10 });
          expectProblem(r, 412, 'unsupported-tus-version');
          expect(String(r.headers['tus-version']).split(',').map((s) => s.trim())).toContain('1.0.0');
          expect(r.headers.location).toBeUndefined();
        }
      });

      it('a PATCH with an unsupported Tus-Resumable is 412 and writes nothing', async () => {
        const { url } = await plainUpload();
        const r = await patch(url, 0, data.subarray(0, 1000), { 'Tus-Resumable': '0.2.2' });
        expect(r.status, r.text).toBe(412);
        expect(String(r.headers['tus-version'])).toContain('1.0.0');
        expect(await offsetOf(url)).toBe(0);
      });
    });

    describe('creation and expiration', () => {
      it('POST creates: 201, Location under /tus/, Upload-Expires as an HTTP date matching the upload\'s expiry', async () => {
        const { url, reply } = await plainUpload();
        expect(new URL(url).pathname).toMatch(/^\/tus\/[^/]+$/);
        const expires = String(reply.headers['upload-expires']);
        // RFC 9110 IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
        expect(expires).toMatch(/^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/);
        expect(Date.parse(expires)).toBeGreaterThan(Date.now());
        const status = await nativeStatus(server.url, uploadIdOf(url));
        expect(Math.abs(Date.parse(expires) - Date.parse(status.expiresAt))).toBeLessThan(1000);
        expect(status).toMatchObject({ size: SIZE, chunkSize: CHUNK, name: 'spec.bin', state: 'uploading', fileId: null });
        // The stream upload is not written by Ferry chunks.
        const put = await tusCall(`${server.url}/uploads/${uploadIdOf(url)}/chunks/0`, 'PUT', { 'content-length': 4 }, Buffer.from('abcd'));
        expect(put.status, put.text).toBe(409);
        expect(put.body.type).toBe('urn:ferry:problem:stream-upload');
      });

      it('Upload-Length over Tus-Max-Size is 413', async () => {
        const max = Number((await tusCall(endpoint(), 'OPTIONS')).headers['tus-max-size']);
        const r = await tus('POST', endpoint(), { 'Upload-Length': max + 1 });
        expectProblem(r, 413, 'file-too-large');
        expect(r.headers.location).toBeUndefined();
      });

      it('a POST with neither Upload-Length nor Upload-Defer-Length, or a malformed one, is 400', async () => {
        const cases: Array<Record<string, string>> = [
          {},
          { 'Upload-Length': '-1' },
          { 'Upload-Length': 'ten' },
          { 'Upload-Length': '1.5' },
          { 'Upload-Defer-Length': '2' },
          { 'Upload-Length': '10', 'Upload-Defer-Length': '1' },
        ];
        for (const headers of cases) {
          const r = await tus('POST', endpoint(), headers);
          expect(r.status, `${JSON.stringify(headers)}: ${r.text}`).toBe(400);
          expect(r.headers.location).toBeUndefined();
        }
      });

      it('HEAD: Upload-Offset, Upload-Length, Cache-Control: no-store, and Upload-Metadata as sent', async () => {
        const sent = { filename: 'résumé 2024.pdf', filetype: 'application/pdf', is_confidential: '' };
        const { url } = await create({ 'Upload-Length': SIZE, 'Upload-Metadata': tusMetadata(sent) });
        const h = await head(url);
        expect(h.status).toBe(200);
        expect(h.headers['upload-offset']).toBe('0');
        expect(h.headers['upload-length']).toBe(String(SIZE));
        expect(String(h.headers['cache-control'])).toMatch(/no-store/);
        expect(h.headers['upload-defer-length']).toBeUndefined();
        expect(parseTusMetadata(h.headers['upload-metadata'])).toEqual(sent);
        expect(h.text).toBe('');
        expect((await nativeStatus(server.url, uploadIdOf(url))).name).toBe('résumé 2024.pdf');
      });

      it('HEAD of an upload that does not exist is 404 without Upload-Offset', async () => {
        const r = await head(`${server.url}/tus/${'A'.repeat(24)}`);
        expect(r.status).toBe(404);
        expect(r.headers['upload-offset']).toBeUndefined();
      });

      it('creation-with-upload: a POST with a body answers Upload-Offset; the rest follows by PATCH', async () => {
        const { url, reply } = await create({ 'Upload-Length': SIZE, 'Content-Type': OCTETS }, data.subarray(0, 5 * MiB));
        expect(reply.headers['upload-offset']).toBe(String(5 * MiB));
        expect(await offsetOf(url)).toBe(5 * MiB);
        await patchOk(url, 5 * MiB, data.subarray(5 * MiB));
        await expectFile(url);
      });

      it('creation-with-upload of a whole file completes it in one request', async () => {
        const small = data.subarray(0, 3 * MiB + 17);
        const { url, reply } = await create({ 'Upload-Length': small.length, 'Content-Type': OCTETS, 'Upload-Metadata': tusMetadata({ filename: 'one-shot.bin' }) }, small);
        expect(reply.headers['upload-offset']).toBe(String(small.length));
        await expectFile(url, { size: small.length, sha256: sha(small) });
      });

      it('creation-defer-length: HEAD shows Upload-Defer-Length until a PATCH brings Upload-Length', async () => {
        const { url } = await create({ 'Upload-Defer-Length': '1', 'Upload-Metadata': tusMetadata({ filename: 'deferred.bin' }) });
        let h = await head(url);
        expect(h.headers['upload-defer-length']).toBe('1');
        expect(h.headers['upload-length']).toBeUndefined();
        expect(h.headers['upload-offset']).toBe('0');
        // 3 MiB, then across the first chunk boundary, still without a length.
        let at = await patchOk(url, 0, data.subarray(0, 3 * MiB));
        at = await patchOk(url, at, data.subarray(at, 12 * MiB));
        h = await head(url);
        expect(h.headers['upload-defer-length']).toBe('1');
        expect(h.headers['upload-length']).toBeUndefined();
        expect(h.headers['upload-offset']).toBe(String(12 * MiB));
        // The last PATCH says the length.
        await patchOk(url, at, data.subarray(at), { 'Upload-Length': SIZE });
        h = await head(url);
        expect(h.headers['upload-length']).toBe(String(SIZE));
        expect(h.headers['upload-defer-length']).toBeUndefined();
        expect(h.headers['upload-offset']).toBe(String(SIZE));
        await expectFile(url);
      });

      it('creation-defer-length: the length may be given alone, on an empty PATCH, then the bytes follow', async () => {
        const { url } = await create({ 'Upload-Defer-Length': '1' });
        let at = await patchOk(url, 0, data.subarray(0, 9 * MiB));
        at = await patchOk(url, at, Buffer.alloc(0), { 'Upload-Length': SIZE });
        const h = await head(url);
        expect(h.headers['upload-length']).toBe(String(SIZE));
        expect(h.headers['upload-defer-length']).toBeUndefined();
        await patchOk(url, at, data.subarray(at));
        await expectFile(url);
      });
    });

    describe('PATCH', () => {
      it('a wrong Upload-Offset is 409 and writes nothing', async () => {
        const { url } = await plainUpload();
        expectProblem(await patch(url, 5, data.subarray(5, 1000)), 409, 'upload-offset-mismatch');
        expect(await offsetOf(url)).toBe(0);
        const at = await patchOk(url, 0, data.subarray(0, 3 * MiB));
        // Behind and ahead of where it stands.
        expectProblem(await patch(url, 0, data.subarray(0, 1000)), 409, 'upload-offset-mismatch');
        expectProblem(await patch(url, at + 1, data.subarray(at + 1, at + 1000)), 409, 'upload-offset-mismatch');
        expect(await offsetOf(url)).toBe(at);
      });

      it('a Content-Type other than application/offset+octet-stream (or none) is 415 and writes nothing', async () => {
        const { url } = await plainUpload();
        for (const type of ['application/octet-stream', 'text/plain', '']) {
          const r = await patch(url, 0, data.subarray(0, 1000), { 'Content-Type': type });
          expectProblem(r, 415, 'unsupported-media-type');
        }
        expect(await offsetOf(url)).toBe(0);
      });

      it('a body past Upload-Length is refused (413) and writes nothing', async () => {
        const small = data.subarray(0, 1000);
        const { url } = await create({ 'Upload-Length': small.length });
        const r = await patch(url, 0, data.subarray(0, small.length + 1));
        expectProblem(r, 413, 'file-too-large');
        expect(await offsetOf(url)).toBe(0);
      });

      it('a PATCH of an upload that does not exist is 404', async () => {
        const r = await patch(`${server.url}/tus/${'A'.repeat(24)}`, 0, data.subarray(0, 10));
        expect(r.status).toBe(404);
      });

      it('two PATCHes at the same offset at once: one is accepted, the other refused (409 or 423), and the file is whole', async () => {
        const { url } = await plainUpload();
        const body = data.subarray(0, 12 * MiB);
        // The one refused may be answered before its body is read, and its connection closed under it.
        const settled = await Promise.allSettled([patch(url, 0, body), patch(url, 0, body)]);
        const outcomes = settled.map((o) => (o.status === 'fulfilled' ? String(o.value.status) : (o.reason as NodeJS.ErrnoException).code ?? String(o.reason)));
        expect(outcomes.filter((o) => o === '204'), outcomes.join(', ')).toHaveLength(1);
        expect(['409', '423', 'EPIPE', 'ECONNRESET'], outcomes.join(', ')).toContain(outcomes.find((o) => o !== '204'));
        expect(await offsetOf(url)).toBe(12 * MiB);
        await patchOk(url, 12 * MiB, data.subarray(12 * MiB));
        await expectFile(url);
      });

      it('X-HTTP-Method-Override: PATCH on a POST is a PATCH', async () => {
        const { url } = await plainUpload();
        const r = await tus('POST', url, { 'X-HTTP-Method-Override': 'PATCH', 'Upload-Offset': 0, 'Content-Type': OCTETS }, data.subarray(0, 9 * MiB));
        expect(r.status, r.text).toBe(204);
        expect(r.headers['upload-offset']).toBe(String(9 * MiB));
        expect(await offsetOf(url)).toBe(9 * MiB);
        const rest = await tus('POST', url, { 'X-HTTP-Method-Override': 'PATCH', 'Upload-Offset': 9 * MiB, 'Content-Type': OCTETS }, data.subarray(9 * MiB));
        expect(rest.status, rest.text).toBe(204);
        await expectFile(url);
      });

      it('partial chunks survive between requests: PATCHes of 3 MiB answer 3, 6, 9 ... MiB, and the file is whole', async () => {
        const { url } = await plainUpload();
        const id = uploadIdOf(url);
        let expires = 0;
        for (let at = 0; at < SIZE; ) {
          const next = Math.min(SIZE, at + 3 * MiB);
          const r = await patch(url, at, data.subarray(at, next));
          expect(r.status, r.text).toBe(204);
          expect(r.headers['upload-offset']).toBe(String(next));
          at = next;
          expect(await offsetOf(url)).toBe(at);
          if (at < SIZE) {
            // Expiration: "This header MUST be included in every PATCH response if the upload is going to expire."
            const when = Date.parse(String(r.headers['upload-expires']));
            expect(when, `Upload-Expires ${r.headers['upload-expires']}`).toBeGreaterThan(Date.now());
            expect(when).toBeGreaterThanOrEqual(expires); // activity never brings the expiry closer
            expires = when;
            // Only whole chunks count as received; the bytes of the next one are staged.
            const status = await nativeStatus(server.url, id);
            expect(status.chunksReceived, `at ${at}`).toBe(Math.floor(at / CHUNK));
          }
        }
        await expectFile(url);
        await expectDownload(url);
        if (bucket) expect(await stagingObjects(id)).toEqual([]);
      });
    });

    describe('checksum extension', () => {
      const digest = (algorithm: 'sha1' | 'md5' | 'sha256', body: Buffer) => `${algorithm} ${createHash(algorithm).update(body).digest('base64')}`;

      it('a mismatch is 460 and keeps nothing past the last good offset; sha1, md5 and sha256 that match are 204', async () => {
        const { url } = await plainUpload();
        const id = uploadIdOf(url);
        let at = await patchOk(url, 0, data.subarray(0, 3 * MiB), { 'Upload-Checksum': digest('sha1', data.subarray(0, 3 * MiB)) });
        at = await patchOk(url, at, data.subarray(at, 6 * MiB), { 'Upload-Checksum': digest('md5', data.subarray(at, 6 * MiB)) });
        expect(at).toBe(6 * MiB);

        // 6..10 MiB would finish chunk 0 and start chunk 1: with a wrong checksum none of it is kept.
        const body = data.subarray(6 * MiB, 10 * MiB);
        const wrong = digest('sha256', Buffer.concat([body.subarray(0, body.length - 1), Buffer.from([body[body.length - 1]! ^ 1])]));
        expectProblem(await patch(url, at, body, { 'Upload-Checksum': wrong }), 460, 'checksum-mismatch');
        expect(await offsetOf(url)).toBe(6 * MiB);
        expect((await nativeStatus(server.url, id)).chunksReceived).toBe(0);
        // Inside a chunk too.
        expectProblem(await patch(url, at, body.subarray(0, MiB), { 'Upload-Checksum': digest('md5', body.subarray(1, MiB + 1)) }), 460, 'checksum-mismatch');
        expect(await offsetOf(url)).toBe(6 * MiB);

        at = await patchOk(url, at, body, { 'Upload-Checksum': digest('sha256', body) });
        expect(at).toBe(10 * MiB);
        expect((await nativeStatus(server.url, id)).chunksReceived).toBe(1);
        await patchOk(url, at, data.subarray(at), { 'Upload-Checksum': digest('sha1', data.subarray(at)) });
        await expectFile(url);
        await expectDownload(url);
      });

      it('an algorithm it does not support, or a malformed Upload-Checksum, is 400 and writes nothing', async () => {
        const { url } = await plainUpload();
        for (const value of ['crc32 AAAAAA==', 'sha1', 'sha1 not*base64', `sha256 ${Buffer.alloc(20).toString('base64')}`]) {
          const r = await patch(url, 0, data.subarray(0, 1000), { 'Upload-Checksum': value });
          expect([400, 460], `Upload-Checksum: ${value} → ${r.status} ${r.text}`).toContain(r.status);
          if (!value.startsWith('sha256')) expect(r.status, `Upload-Checksum: ${value}`).toBe(400);
        }
        expect(await offsetOf(url)).toBe(0);
      });
    });

    describe('termination', () => {
      it('X-HTTP-Method-Override: DELETE on a POST terminates', async () => {
        const { url } = await plainUpload();
        const d = await tus('POST', url, { 'X-HTTP-Method-Override': 'DELETE' });
        expect(d.status, d.text).toBe(204);
        expect([404, 410]).toContain((await head(url)).status);
      });

      it('DELETE is 204; then HEAD and PATCH are 404 or 410', async () => {
        const { url } = await plainUpload();
        await patchOk(url, 0, data.subarray(0, 9 * MiB));
        const d = await tus('DELETE', url);
        expect(d.status, d.text).toBe(204);
        const h = await head(url);
        expect([404, 410]).toContain(h.status);
        expect(h.headers['upload-offset']).toBeUndefined();
        const p = await patch(url, 9 * MiB, data.subarray(9 * MiB, 10 * MiB));
        expect([404, 410]).toContain(p.status);
        if (bucket) expect(await stagingObjects(uploadIdOf(url))).toEqual([]);
      });
    });

    describe('concatenation extension', () => {
      it('a final upload of partials that are not finished is 400; once they are, it is the concatenated file', async () => {
        const a = data.subarray(0, 9 * MiB);
        const b = data.subarray(9 * MiB);
        const partA = await create({ 'Upload-Concat': 'partial', 'Upload-Length': a.length });
        const partB = await create({ 'Upload-Concat': 'partial', 'Upload-Length': b.length });
        expect(String((await head(partA.url)).headers['upload-concat'])).toBe('partial');
        await patchOk(partA.url, 0, a);
        await patchOk(partB.url, 0, b.subarray(0, 4 * MiB));
        // A finished partial is not a file by itself.
        expect((await nativeStatus(server.url, uploadIdOf(partA.url))).fileId).toBeNull();

        // As paths, as the specification's example writes them.
        const concat = `final;${new URL(partA.url).pathname} ${new URL(partB.url).pathname}`;
        const meta = tusMetadata({ filename: 'joined.bin' });
        const early = await tus('POST', endpoint(), { 'Upload-Concat': concat, 'Upload-Metadata': meta });
        expectProblem(early, 400, 'concatenation-incomplete');
        expect(early.headers.location).toBeUndefined();

        await patchOk(partB.url, 4 * MiB, b.subarray(4 * MiB));
        const final = await create({ 'Upload-Concat': concat, 'Upload-Metadata': meta });
        const h = await head(final.url);
        expect(h.status).toBe(200);
        // "Response to HEAD request against partial or final upload MUST include the Upload-Concat header
        // and its value as received in the upload creation request."
        expect.soft(h.headers['upload-concat'], 'Upload-Concat of the final upload').toBe(concat);
        expect(h.headers['upload-length']).toBe(String(SIZE));
        expect(h.headers['upload-offset']).toBe(String(SIZE));
        // "The Client MUST NOT send PATCH requests to the final upload": 403.
        // "The Server MUST respond with the 403 Forbidden status to PATCH requests against a final upload URL."
        const patched = await patch(final.url, SIZE, Buffer.from('x'));
        expect.soft(patched.status, `PATCH of the final upload: ${patched.text}`).toBe(403);
        await expectFile(final.url);
        expect((await nativeStatus(server.url, uploadIdOf(final.url))).name).toBe('joined.bin');
        await expectDownload(final.url);
      });

      it('a final upload naming something that is not a partial upload of this server is refused', async () => {
        const plain = await plainUpload();
        const r = await tus('POST', endpoint(), { 'Upload-Concat': `final;${new URL(plain.url).pathname}` });
        expect(r.status, r.text).toBeGreaterThanOrEqual(400);
        expect(r.status).toBeLessThan(500);
        const none = await tus('POST', endpoint(), { 'Upload-Concat': `final;/tus/${'A'.repeat(24)}` });
        expect(none.status, none.text).toBeGreaterThanOrEqual(400);
        expect(none.status).toBeLessThan(500);
      });
    });

    describe('a PATCH cut mid-way keeps what arrived', () => {
      it('cut across a chunk boundary (at 11 MiB of a PATCH from 0): the offset is at least the whole chunk, and the rest finishes the file', async () => {
        const { url } = await plainUpload();
        await cutPatch(url, 0, data, 11 * MiB);
        const from = await finishAfterCut(url, data);
        expect(from).toBeGreaterThanOrEqual(CHUNK);
        // Every byte that reached the server was written durably, the staged 3 MiB of chunk 1 included.
        expect(from).toBe(11 * MiB);
        await expectFile(url);
        await expectDownload(url);
        if (bucket) expect(await stagingObjects(uploadIdOf(url))).toEqual([]);
      });

      it('cut inside a chunk (2 MiB into a PATCH from 8 MiB): the staged bytes survive', async () => {
        const { url } = await plainUpload();
        await patchOk(url, 0, data.subarray(0, CHUNK));
        await cutPatch(url, CHUNK, data.subarray(CHUNK), 2 * MiB);
        const from = await finishAfterCut(url, data);
        expect(from).toBeGreaterThanOrEqual(CHUNK);
        expect(from).toBe(CHUNK + 2 * MiB);
        await expectFile(url);
        await expectDownload(url);
      });

      it('cut inside the first chunk (3 MiB), twice: each cut keeps its bytes', async () => {
        const { url } = await plainUpload();
        await cutPatch(url, 0, data, 3 * MiB);
        const afterFirst = await settledOffset(url);
        expect(afterFirst).toBe(3 * MiB);
        await cutPatch(url, afterFirst, data.subarray(afterFirst), 2 * MiB);
        const from = await finishAfterCut(url, data);
        expect(from).toBe(5 * MiB);
        await expectFile(url);
      });
    });

    /** The offset once the server has wound up a cut request: a zero-length PATCH there is accepted. */
    async function settledOffset(url: string): Promise<number> {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const at = await offsetOf(url);
        const r = await patch(url, at, Buffer.alloc(0));
        if (r.status === 204) return at;
        expect([409, 423], `empty PATCH at ${at}: ${r.status} ${r.text}`).toContain(r.status);
        if (Date.now() > deadline) throw new Error('the upload stayed busy after the cut');
        await delay(20);
      }
    }
  });
});

describe('tus discovery in token mode', () => {
  it('OPTIONS needs no credential; a POST without one is 401', async () => {
    const server = await startTestServer({ auth: 'token', defaultChunkSize: CHUNK });
    try {
      const o = await tusCall(`${server.url}/tus/`, 'OPTIONS');
      expect(o.status).toBe(204);
      expect(String(o.headers['tus-version'])).toContain('1.0.0');
      const p = await tusCall(`${server.url}/tus/`, 'POST', { 'Tus-Resumable': TUS, 'Upload-Length': 10 });
      expect(p.status, p.text).toBe(401);
    } finally {
      await server.dispose();
    }
  });
});
