// GET /files/{id}: single ranges, 416, If-Range, If-None-Match, ETag, Repr-Digest, manifests.
// Shared by download.test.ts (SQLite) and protocol-on-postgres.test.ts (PostgreSQL): one set of assertions, every metadata store.
import { get as httpGet } from 'node:http';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Paths } from '../../src/protocol/index.js';
import { randomData, sha256Field } from '../helpers/digest.js';
import { call, create, createWithFirstChunk, sendChunks } from '../helpers/http.js';
import type { ServerConfigInput } from '../../src/server/index.js';
import { KiB, type TestServer } from '../helpers/server.js';

/** Registers the tests; `start` starts a server (with the suite's config) for them, which they dispose of. */
export function describeDownloads(start: (config?: ServerConfigInput) => Promise<TestServer>): void {
  let server: TestServer;
  const cs = 4 * KiB;
  const data = randomData(3 * cs + 123);
  let path: string;
  let fileId: string;
  let etag: string;

  beforeAll(async () => {
    server = await start();
    const { uploadId } = (await create(server.url, { name: 'range.bin', size: data.length, chunkSize: cs, fileDigest: sha256Field(data) })).body;
    const replies = await sendChunks(server.url, uploadId, data, cs, [0, 1, 2, 3]);
    fileId = replies.find((r) => r.body.complete)!.body.fileId;
    path = Paths.file(fileId);
    etag = (await call(server.url, 'HEAD', path)).headers.etag as string;
  });
  afterAll(() => server.dispose());

  const get = (headers: Record<string, string>, method = 'GET') => call(server.url, method, path, { headers });
  const bytes = (r: { text: string }) => Buffer.from(r.text, 'latin1');
  async function getRaw(headers: Record<string, string>) {
    const res = await fetch(server.url + path, { headers });
    return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
  }

  describe('validators', () => {
    it('strong ETag, Last-Modified, Accept-Ranges and Repr-Digest on every answer', async () => {
      const r = await get({}, 'HEAD');
      expect(r.status).toBe(200);
      expect(etag).toMatch(/^"[A-Za-z0-9_-]{43}"$/);
      expect(r.headers['accept-ranges']).toBe('bytes');
      expect(r.headers['repr-digest']).toBe(sha256Field(data));
      expect(Date.parse(r.headers['last-modified'] as string)).toBeGreaterThan(0);
    });
    it('If-None-Match with the ETag is 304', async () => {
      expect((await get({ 'if-none-match': etag })).status).toBe(304);
      expect((await get({ 'if-none-match': `W/${etag}` })).status).toBe(304);
      expect((await get({ 'if-none-match': '"other"' })).status).toBe(200);
    });
    it('a file without a declared digest has no Repr-Digest', async () => {
      const r = await createWithFirstChunk(server.url, { name: 'nodigest', size: 3, chunkSize: cs }, Buffer.from('abc'));
      expect((await call(server.url, 'HEAD', new URL(r.body.fileUrl).pathname)).headers['repr-digest']).toBeUndefined();
    });
  });

  describe('ranges', () => {
    const size = data.length;
    const cases: Array<[string, number, number]> = [
      ['bytes=0-0', 0, 1],
      [`bytes=${size - 1}-${size - 1}`, size - 1, size],
      ['bytes=100-', 100, size],
      ['bytes=-500', size - 500, size],
      [`bytes=-${size + 10}`, 0, size],
      [`bytes=10-${size + 1000}`, 10, size],
      [`bytes=${cs}-${2 * cs - 1}`, cs, 2 * cs],
    ];
    for (const [range, start, end] of cases) {
      it(`${range} → 206 bytes ${start}-${end - 1}`, async () => {
        const r = await getRaw({ range });
        expect(r.status).toBe(206);
        expect(r.headers.get('content-range')).toBe(`bytes ${start}-${end - 1}/${size}`);
        expect(r.headers.get('content-length')).toBe(String(end - start));
        expect(r.body.equals(data.subarray(start, end))).toBe(true);
      });
    }
    for (const range of [`bytes=${size}-`, `bytes=${size + 5}-${size + 10}`, 'bytes=-0']) {
      it(`${range} → 416 with bytes */size`, async () => {
        const r = await get({ range });
        expect(r.status).toBe(416);
        expect(r.headers['content-range']).toBe(`bytes */${size}`);
        expect(r.body.type).toBe('urn:ferry:problem:range-not-satisfiable');
      });
    }
    for (const range of ['bytes=abc', 'bytes=5-2', 'items=0-5', 'bytes=', 'bytes=0-1,5-9']) {
      it(`${range} → the whole file (200)`, async () => {
        const r = await getRaw({ range });
        expect(r.status).toBe(200);
        expect(r.body.equals(data)).toBe(true);
      });
    }
    it('If-Range with the ETag honours the range; with another ETag or a weak one sends everything', async () => {
      expect((await getRaw({ range: 'bytes=0-9', 'if-range': etag })).status).toBe(206);
      expect((await getRaw({ range: 'bytes=0-9', 'if-range': '"stale"' })).status).toBe(200);
      expect((await getRaw({ range: 'bytes=0-9', 'if-range': `W/${etag}` })).status).toBe(200);
    });
    it('If-Range with the Last-Modified date honours the range; an older date does not', async () => {
      const lastModified = (await get({}, 'HEAD')).headers['last-modified'] as string;
      expect((await getRaw({ range: 'bytes=0-9', 'if-range': lastModified })).status).toBe(206);
      expect((await getRaw({ range: 'bytes=0-9', 'if-range': new Date(Date.parse(lastModified) - 60_000).toUTCString() })).status).toBe(200);
    });
    it('HEAD with a range answers the range headers without a body', async () => {
      const r = await get({ range: 'bytes=0-9' }, 'HEAD');
      expect(r.status).toBe(206);
      expect(r.headers['content-length']).toBe('10');
      expect(bytes(r).length).toBe(0);
    });
    it('a 0-byte file: 200 empty, and any range is 416', async () => {
      const r = await createWithFirstChunk(server.url, { name: 'empty', size: 0, chunkSize: cs }, Buffer.alloc(0));
      const p = new URL(r.body.fileUrl).pathname;
      const whole = await call(server.url, 'GET', p);
      expect(whole.status).toBe(200);
      expect(whole.headers['content-length']).toBe('0');
      const ranged = await call(server.url, 'GET', p, { headers: { range: 'bytes=0-' } });
      expect(ranged.status).toBe(416);
      expect(ranged.headers['content-range']).toBe('bytes */0');
    });
  });

  describe('manifest', () => {
    it('lists every chunk with its offset, size and verified digest, and the ETag', async () => {
      const r = await call(server.url, 'GET', Paths.manifest(fileId));
      expect(r.status).toBe(200);
      expect(r.headers.etag).toBe(etag);
      expect(r.body).toMatchObject({ fileId, size: data.length, chunkSize: cs, totalChunks: 4, checksum: 'sha-256', etag, fileDigest: sha256Field(data) });
      expect(r.body.chunks).toHaveLength(4);
      for (const c of r.body.chunks) {
        expect(c.offset).toBe(c.index * cs);
        expect(c.digest).toBe(sha256Field(data.subarray(c.offset, c.offset + c.size)));
      }
    });
    it('of an unknown file is 404 file-not-found', async () => {
      const r = await call(server.url, 'GET', Paths.manifest('nope'));
      expect(r.status).toBe(404);
      expect(r.body.type).toBe('urn:ferry:problem:file-not-found');
    });
  });

  describe('bodies of several MiB', () => {
    // The server reads each response into one reused buffer and reads the next piece only once the
    // socket has taken the last: slow readers and readers that leave must still get exact bytes.
    const big = randomData(6 * 1024 * KiB + 321);
    const bigCs = 1024 * KiB;
    let bigPath: string;
    beforeAll(async () => {
      const { uploadId } = (await create(server.url, { name: 'big.bin', size: big.length, chunkSize: bigCs })).body;
      const order = Array.from({ length: Math.ceil(big.length / bigCs) }, (_, i) => i);
      const replies = await sendChunks(server.url, uploadId, big, bigCs, order);
      bigPath = new URL(replies.find((r) => r.body.complete)!.body.fileUrl).pathname;
    });

    /** GETs `range` and consumes the body slowly: every piece waits a few turns of the event loop. */
    function slowGet(range: string | null, leaveAfter = Infinity): Promise<{ status: number; body: Buffer; left: boolean }> {
      return new Promise((resolve, reject) => {
        const req = httpGet(server.url + bigPath, { headers: range ? { range } : {} }, (res) => {
          const parts: Buffer[] = [];
          let got = 0;
          const slow = new Writable({
            highWaterMark: 1,
            write(piece: Buffer, _enc, done) {
              parts.push(piece);
              got += piece.length;
              if (got >= leaveAfter) {
                req.destroy();
                resolve({ status: res.statusCode!, body: Buffer.concat(parts), left: true });
                return;
              }
              let turns = 3;
              const turn = () => (--turns > 0 ? setImmediate(turn) : done());
              setImmediate(turn);
            },
          });
          res.pipe(slow);
          res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(parts), left: false }));
          res.on('error', reject);
        });
        req.on('error', (e) => (leaveAfter < Infinity ? undefined : reject(e)));
      });
    }

    it('slow readers of overlapping ranges, side by side, each get exactly their bytes', async () => {
      const ranges: Array<[number, number]> = [
        [0, big.length],
        [bigCs - 5, 4 * bigCs + 17],
        [3 * bigCs + 1, big.length],
      ];
      const answers = await Promise.all(ranges.map(([s, e]) => slowGet(s === 0 && e === big.length ? null : `bytes=${s}-${e - 1}`)));
      answers.forEach((a, i) => {
        const [s, e] = ranges[i]!;
        expect(a.status).toBe(s === 0 && e === big.length ? 200 : 206);
        expect(a.body.equals(big.subarray(s, e)), `range ${s}-${e}`).toBe(true);
      });
    });

    it('a reader that leaves mid-body does not disturb the next one', async () => {
      const left = await slowGet(null, 2 * bigCs);
      expect(left.left).toBe(true);
      expect(left.body.equals(big.subarray(0, left.body.length))).toBe(true);
      const next = await slowGet('bytes=1-');
      expect(next.body.equals(big.subarray(1))).toBe(true);
      expect((await call(server.url, 'GET', '/healthz')).status).toBe(200);
    });
  });
}
