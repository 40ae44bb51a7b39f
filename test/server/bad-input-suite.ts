// Every kind of bad request gets the documented status and problem type, and stored data is untouched.
// Shared by bad-input.test.ts (SQLite) and protocol-on-postgres.test.ts (PostgreSQL): one set of assertions, every metadata store.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Headers, Paths } from '../../src/protocol/index.js';
import { randomData, sha256Field, sha256Hex } from '../helpers/digest.js';
import { call, chunkOf, create, download, putChunk, status, type Reply } from '../helpers/http.js';
import type { ServerConfigInput } from '../../src/server/index.js';
import { KiB, type TestServer } from '../helpers/server.js';

/** Registers the tests; `start` starts a server (with the suite's config) for them, which they dispose of. */
export function describeBadInput(start: (config?: ServerConfigInput) => Promise<TestServer>): void {
  let server: TestServer;
  const cs = 4 * KiB;
  const data = randomData(3 * cs + 100);
  let uploadId: string;

  beforeAll(async () => {
    server = await start({ maxFileSize: 1024 * 1024 * 1024 });
    uploadId = (await create(server.url, { name: 'victim.bin', size: data.length, chunkSize: cs })).body.uploadId;
    expect((await putChunk(server.url, uploadId, 0, chunkOf(data, cs, 0))).status).toBe(201);
  });

  afterAll(async () => {
    // Nothing any bad request did may have changed the valid upload: it completes byte-identical.
    const st = await status(server.url, uploadId);
    expect(st.body).toMatchObject({ state: 'uploading', chunksReceived: 1, missing: '1-3' });
    let last: Reply | undefined;
    for (const i of [1, 2, 3]) last = await putChunk(server.url, uploadId, i, chunkOf(data, cs, i));
    expect(sha256Hex((await download(last!.body.fileUrl)).bytes)).toBe(sha256Hex(data));
    await server.dispose();
  });

  function expectProblem(r: Reply, status: number, code: string) {
    expect(r.status).toBe(status);
    expect(r.headers['content-type']).toBe('application/problem+json');
    expect(r.body).toMatchObject({ type: `urn:ferry:problem:${code}`, status });
    expect(typeof r.body.title).toBe('string');
    expect(typeof r.body.detail).toBe('string');
  }

  describe('create rejects', () => {
    const json = (body: string) => call(server.url, 'POST', Paths.uploads, { headers: { 'content-type': 'application/json' }, body });
    it('malformed JSON', async () => expectProblem(await json('{"name": '), 400, 'malformed-request'));
    it('missing fields', async () => expectProblem(await json('{"name":"x"}'), 400, 'malformed-request'));
    it('a negative size', async () => expectProblem(await json('{"name":"x","size":-1}'), 400, 'malformed-request'));
    it('a non-JSON content type', async () =>
      expectProblem(await call(server.url, 'POST', Paths.uploads, { headers: { 'content-type': 'text/plain' }, body: 'hi' }), 415, 'unsupported-media-type'));
    for (const name of ['../etc/passwd', 'a/b', 'a\\b', '..', 'bad\nname']) {
      it(`the file name ${JSON.stringify(name)}`, async () => expectProblem(await create(server.url, { name, size: 1 }), 400, 'invalid-file-name'));
    }
    it('an empty file name', async () => expectProblem(await create(server.url, { name: '', size: 1 }), 400, 'blank-file-name'));
    it('a size above the limit', async () => expectProblem(await create(server.url, { name: 'huge', size: 2 * 1024 ** 3 }), 413, 'file-too-large'));
    it('a chunk size below the minimum', async () => expectProblem(await create(server.url, { name: 'x', size: 10, chunkSize: 10 }), 400, 'invalid-chunk-size'));
    it('a chunk size above the maximum', async () => expectProblem(await create(server.url, { name: 'x', size: 10, chunkSize: 1024 ** 3 }), 400, 'invalid-chunk-size'));
    it('an unknown checksum algorithm', async () => expectProblem(await create(server.url, { name: 'x', size: 10, checksum: 'md5' }), 400, 'unsupported-algorithm'));
    it('a malformed file digest', async () => expectProblem(await create(server.url, { name: 'x', size: 10, fileDigest: 'sha-256=:abc:' }), 400, 'malformed-digest'));
    it('an oversized body', async () => expectProblem(await json(JSON.stringify({ name: 'x', size: 1, metadata: { pad: 'x'.repeat(70 * KiB) } })), 413, 'body-too-large'));
    it('a first chunk without parameters', async () =>
      expectProblem(await call(server.url, 'POST', Paths.uploads, { headers: { 'content-type': 'application/octet-stream' }, body: 'abc' }), 400, 'malformed-request'));
  });

  describe('chunk PUT rejects', () => {
    const good = () => chunkOf(data, cs, 1);
    it('an unknown upload id', async () => expectProblem(await putChunk(server.url, 'A'.repeat(24), 0, good()), 404, 'upload-not-found'));
    for (const index of ['-1', '1.5', 'abc', '4', '99999999999']) {
      it(`index ${index}`, async () => expectProblem(await putChunk(server.url, uploadId, index, good()), 400, 'invalid-chunk-index'));
    }
    it('a missing digest header', async () =>
      expectProblem(await call(server.url, 'PUT', Paths.chunk(uploadId, 1), { headers: { 'content-length': cs }, body: good() }), 400, 'missing-digest'));
    it('a malformed digest header', async () => expectProblem(await putChunk(server.url, uploadId, 1, good(), 'sha-256=abc'), 400, 'malformed-digest'));
    it('a digest of the wrong length', async () => expectProblem(await putChunk(server.url, uploadId, 1, good(), 'sha-256=:AAAA:'), 400, 'malformed-digest'));
    it('an unknown algorithm', async () => expectProblem(await putChunk(server.url, uploadId, 1, good(), 'md5=:1B2M2Y8AsgTpgAmY7PhCfg==:'), 400, 'unsupported-algorithm'));
    it('a digest mismatch', async () => expectProblem(await putChunk(server.url, uploadId, 1, good(), sha256Field(randomData(5))), 422, 'digest-mismatch'));
    it('a short body', async () => {
      const short = good().subarray(0, cs - 1);
      expectProblem(await putChunk(server.url, uploadId, 1, short, sha256Field(good())), 400, 'chunk-length-mismatch');
    });
    it('a long body', async () => {
      const long = Buffer.concat([good(), Buffer.from('x')]);
      expectProblem(await putChunk(server.url, uploadId, 1, long, sha256Field(good())), 413, 'chunk-too-long');
    });
    it('a long chunked body without Content-Length', async () => {
      const r = await new Promise<Reply>((resolve, reject) => {
        const req = request(new URL(Paths.chunk(uploadId, 1), server.url), { method: 'PUT', headers: { [Headers.contentDigest]: sha256Field(good()) }, agent: false }, (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text), text }));
        });
        req.on('error', reject);
        req.write(good());
        req.end(Buffer.from('extra'));
      });
      expectProblem(r, 413, 'chunk-too-long');
    });
    it('a client that disconnects mid-chunk leaves the chunk not received', async () => {
      const partial = good().subarray(0, cs / 2);
      const before = server.ctx.metrics.get('ferry_chunks_failed_total', { code: 'client-disconnected' });
      await new Promise<void>((resolve) => {
        const req = request(new URL(Paths.chunk(uploadId, 2), server.url), {
          method: 'PUT',
          headers: { [Headers.contentDigest]: sha256Field(chunkOf(data, cs, 2)), 'content-length': cs },
          agent: false,
        });
        req.on('error', () => resolve());
        req.write(partial, () => {
          // Wait until the server has read the partial body, then drop the connection.
          const poll = setInterval(() => {
            if (server.ctx.metrics.get('ferry_chunk_bytes_received_total') > 0 && server.ctx.chunkWrites.size > 0) {
              clearInterval(poll);
              req.destroy();
            }
          }, 5);
        });
      });
      await expect.poll(() => server.ctx.metrics.get('ferry_chunks_failed_total', { code: 'client-disconnected' })).toBe(before + 1);
      expect((await status(server.url, uploadId)).body.missing).toBe('1-3');
    });
  });

  describe('other requests', () => {
    it('an unknown path is a 404 problem', async () => expectProblem(await call(server.url, 'GET', '/nope'), 404, 'not-found'));
    it('a wrong method is a 405 problem with Allow', async () => {
      const r = await call(server.url, 'PATCH', Paths.upload(uploadId));
      expectProblem(r, 405, 'method-not-allowed');
      expect(r.headers.allow).toBe('GET, HEAD, DELETE');
    });
    it('an unknown file is a 404 problem', async () => expectProblem(await call(server.url, 'GET', Paths.file('nope')), 404, 'file-not-found'));
    it('an unknown status is a 404 problem', async () => expectProblem(await status(server.url, 'nope'), 404, 'upload-not-found'));
    it('an unsupported protocol version', async () =>
      expectProblem(await call(server.url, 'GET', Paths.capabilities, { headers: { 'ferry-version': '2' } }), 400, 'unsupported-version'));
  });
}
