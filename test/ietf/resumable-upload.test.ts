// The IETF resumable-upload draft (interop versions 5 = draft -03 and 6 = draft -05) against a real
// server, over raw HTTP: creation, offset retrieval, append, completion, cancellation, and the problems.
import { createHash, randomBytes } from 'node:crypto';
import { Agent } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { call, download } from '../helpers/http.js';
import { cutCall, draftCall, type DraftReply } from './draft-client.js';

const problemBase = 'https://iana.org/assignments/http-problem-types#';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.dispose();
});

/** Test chunks are 64 KiB: these sizes cross chunk boundaries and end inside chunks. */
function bytes(n: number): Buffer {
  return randomBytes(n);
}

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** The path of an upload resource URL (Location is absolute). */
function pathOf(location: string | undefined): string {
  expect(location).toMatch(/^http:\/\/[^/]+\/tus\/[^/]+$/);
  return new URL(location!).pathname;
}

function uploadIdOf(path: string): string {
  return decodeURIComponent(path.split('/').pop()!);
}

/** The file an upload became, through the native status route, downloaded. */
async function downloadedFile(uploadPath: string): Promise<{ fileId: string; bytes: Buffer; name: string }> {
  const status = await call(server.url, 'GET', `/uploads/${encodeURIComponent(uploadIdOf(uploadPath))}`);
  expect(status.status).toBe(200);
  expect(status.body.state).toBe('complete');
  const fileId = status.body.fileId as string;
  expect(fileId).toBeTruthy();
  const file = await download(`${server.url}/files/${encodeURIComponent(fileId)}`);
  expect(file.status).toBe(200);
  return { fileId, bytes: file.bytes, name: status.body.name };
}

function expectProblem(r: DraftReply, status: number, type: string): void {
  expect(r.status).toBe(status);
  expect(r.headers['content-type']).toBe('application/problem+json');
  expect(r.body.type).toBe(type);
  expect(r.body.status).toBe(status);
}

describe.each([
  { version: 5, draft: '-03' },
  { version: 6, draft: '-05' },
])('interop version $version (draft$draft)', ({ version }) => {
  const v = String(version);
  /** Headers of an append in this version (-05 requires application/partial-upload). */
  const appendHeaders = (offset: number, complete: boolean): Record<string, string> => ({
    'upload-draft-interop-version': v,
    'upload-offset': String(offset),
    'upload-complete': complete ? '?1' : '?0',
    ...(version >= 6 && { 'content-type': 'application/partial-upload' }),
  });
  const head = (path: string) => draftCall(server.url, 'HEAD', path, { headers: { 'upload-draft-interop-version': v } });

  it('creates an empty incomplete upload, reports its offset, appends in two pieces and completes into the file', async () => {
    const data = bytes(300_001);
    const created = await draftCall(server.url, 'POST', '/tus/', {
      headers: { 'upload-draft-interop-version': v, 'upload-complete': '?0', 'upload-length': data.length },
    });
    expect(created.status).toBe(201);
    expect(created.headers['upload-complete']).toBe('?0');
    expect(created.headers['upload-offset']).toBe('0');
    expect(created.interim).toEqual([]); // no content: nothing to resume, no 104
    if (version >= 6) expect(created.headers['upload-limit']).toMatch(/(^|, )max-size=\d+/);
    const path = pathOf(created.headers.location);

    const before = await head(path);
    expect(before.status).toBe(204);
    expect(before.headers['upload-offset']).toBe('0');
    expect(before.headers['upload-complete']).toBe('?0');
    expect(before.headers['upload-length']).toBe(String(data.length));
    expect(before.headers['cache-control']).toBe('no-store');
    if (version >= 6) expect(before.headers['upload-limit']).toMatch(/min-size=0/);

    const first = await draftCall(server.url, 'PATCH', path, { headers: appendHeaders(0, false), body: data.subarray(0, 100_000) });
    expect(first.status).toBe(201);
    expect(first.headers['upload-offset']).toBe('100000');
    expect(first.headers['upload-complete']).toBe('?0');

    const middle = await head(path);
    expect(middle.headers['upload-offset']).toBe('100000');
    expect(middle.headers['upload-complete']).toBe('?0');

    const last = await draftCall(server.url, 'PATCH', path, { headers: appendHeaders(100_000, true), body: data.subarray(100_000) });
    expect(last.status).toBe(201);
    expect(last.headers['upload-offset']).toBe(String(data.length));
    expect(last.headers['upload-complete']).toBe('?1');

    const file = await downloadedFile(path);
    expect(sha(file.bytes)).toBe(sha(data));
    expect(last.headers['content-location']).toBe(`${server.url}/files/${encodeURIComponent(file.fileId)}`);

    const after = await head(path);
    expect(after.status).toBe(204);
    expect(after.headers['upload-complete']).toBe('?1');
    expect(after.headers['upload-offset']).toBe(String(data.length));

    // Appending to a complete upload: 400 completed-upload, nothing changes.
    const again = await draftCall(server.url, 'PATCH', path, { headers: appendHeaders(data.length, true), body: Buffer.alloc(0) });
    expectProblem(again, 400, `${problemBase}completed-upload`);
  });

  it('creates with the whole content and Upload-Complete ?1, announcing the upload URL in a 104 first', async () => {
    const data = bytes(150_000);
    const created = await draftCall(server.url, 'POST', '/tus/', {
      headers: {
        'upload-draft-interop-version': v,
        'upload-complete': '?1',
        'upload-metadata': `filename ${Buffer.from('report ü.bin').toString('base64')},filetype ${Buffer.from('application/x-test').toString('base64')}`,
        ...(version >= 6 && { 'upload-length': data.length, 'content-type': 'application/partial-upload' }),
      },
      body: data,
    });
    expect(created.status).toBe(201);
    expect(created.headers['upload-complete']).toBe('?1');
    expect(created.headers['upload-offset']).toBe(String(data.length));
    expect(created.interim).toHaveLength(1);
    expect(created.interim[0]!.status).toBe(104);
    expect(created.interim[0]!.headers.location).toBe(created.headers.location);
    expect(created.interim[0]!.headers['upload-draft-interop-version']).toBe(v);
    const file = await downloadedFile(pathOf(created.headers.location));
    expect(sha(file.bytes)).toBe(sha(data));
    expect(file.name).toBe('report ü.bin');
  });

  it('takes the file name from Content-Disposition and learns a deferred length from the completing append', async () => {
    const data = bytes(70_000);
    const created = await draftCall(server.url, 'POST', '/tus/', {
      headers: { 'upload-draft-interop-version': v, 'upload-complete': '?0', 'content-disposition': `attachment; filename="plain.txt"; filename*=UTF-8''na%C3%AFve.txt` },
      body: data.subarray(0, 1000),
    });
    expect(created.status).toBe(201);
    expect(created.headers['upload-offset']).toBe('1000');
    expect(created.headers['upload-length']).toBeUndefined();
    const path = pathOf(created.headers.location);
    expect((await head(path)).headers['upload-length']).toBeUndefined();
    const last = await draftCall(server.url, 'PATCH', path, { headers: appendHeaders(1000, true), body: data.subarray(1000) });
    expect(last.status).toBe(201);
    expect(last.headers['upload-complete']).toBe('?1');
    expect(last.headers['upload-length']).toBe(String(data.length));
    const file = await downloadedFile(path);
    expect(sha(file.bytes)).toBe(sha(data));
    expect(file.name).toBe('naïve.txt');
  });

  it('takes chunked content (no Content-Length) in creation and append, the last one ending the upload', async () => {
    const data = bytes(70_000);
    const created = await draftCall(server.url, 'POST', '/tus/', {
      headers: { 'upload-draft-interop-version': v, 'upload-complete': '?0' },
      body: data.subarray(0, 1000),
      chunked: true,
    });
    expect(created.status).toBe(201);
    expect(created.headers['upload-offset']).toBe('1000');
    const path = pathOf(created.headers.location);
    const last = await draftCall(server.url, 'PATCH', path, { headers: appendHeaders(1000, true), body: data.subarray(1000), chunked: true });
    expect(last.status).toBe(201);
    expect(last.headers['upload-complete']).toBe('?1');
    expect(last.headers['upload-length']).toBe(String(data.length));
    expect(sha((await downloadedFile(path)).bytes)).toBe(sha(data));
  });

  it('refuses an append at the wrong offset with 409 mismatching-upload-offset and the offsets', async () => {
    const created = await draftCall(server.url, 'POST', '/tus/', {
      headers: { 'upload-draft-interop-version': v, 'upload-complete': '?0', 'upload-length': 5000 },
      body: bytes(1234),
    });
    const path = pathOf(created.headers.location);
    const wrong = await draftCall(server.url, 'PATCH', path, { headers: appendHeaders(1000, false), body: bytes(10) });
    expectProblem(wrong, 409, `${problemBase}mismatching-upload-offset`);
    expect(wrong.body['expected-offset']).toBe(1234);
    expect(wrong.body['provided-offset']).toBe(1000);
    expect(wrong.headers['upload-offset']).toBe('1234');
    expect((await head(path)).headers['upload-offset']).toBe('1234');
  });

  it('refuses lengths that contradict each other with inconsistent-upload-length', async () => {
    const creation = await draftCall(server.url, 'POST', '/tus/', {
      headers: { 'upload-draft-interop-version': v, 'upload-complete': '?1', 'upload-length': 20 },
      body: bytes(10),
    });
    expectProblem(creation, 400, `${problemBase}inconsistent-upload-length`);

    const created = await draftCall(server.url, 'POST', '/tus/', {
      headers: { 'upload-draft-interop-version': v, 'upload-complete': '?0', 'upload-length': 100 },
      body: bytes(40),
    });
    const path = pathOf(created.headers.location);
    // Says it ends the upload at 40 + 30 = 70, but the upload is 100 bytes.
    const short = await draftCall(server.url, 'PATCH', path, { headers: appendHeaders(40, true), body: bytes(30) });
    expectProblem(short, 400, `${problemBase}inconsistent-upload-length`);
    // Past the recorded length.
    const long = await draftCall(server.url, 'PATCH', path, { headers: appendHeaders(40, false), body: bytes(61) });
    expectProblem(long, 400, `${problemBase}inconsistent-upload-length`);
    expect((await head(path)).headers['upload-offset']).toBe('40');
  });

  it('cancels an upload with DELETE: 204, then the resource is gone (404)', async () => {
    const created = await draftCall(server.url, 'POST', '/tus/', {
      headers: { 'upload-draft-interop-version': v, 'upload-complete': '?0', 'upload-length': 100_000 },
      body: bytes(70_000),
    });
    const path = pathOf(created.headers.location);
    const refused = await draftCall(server.url, 'DELETE', path, { headers: { 'upload-draft-interop-version': v, 'upload-offset': '70000' } });
    expect(refused.status).toBe(400);
    const cancelled = await draftCall(server.url, 'DELETE', path, { headers: { 'upload-draft-interop-version': v } });
    expect(cancelled.status).toBe(204);
    const gone = await head(path);
    expect(gone.status).toBe(404);
    const append = await draftCall(server.url, 'PATCH', path, { headers: appendHeaders(70_000, true), body: bytes(30_000) });
    expect(append.status).toBe(404);
    const status = await call(server.url, 'GET', `/uploads/${encodeURIComponent(uploadIdOf(path))}`);
    expect(status.body.state).toBe('aborted');
  });

  it('keeps what a cut append delivered: HEAD reports the durable offset and the upload finishes from there', async () => {
    const data = bytes(250_000);
    const created = await draftCall(server.url, 'POST', '/tus/', {
      headers: { 'upload-draft-interop-version': v, 'upload-complete': '?0', 'upload-length': data.length },
    });
    const path = pathOf(created.headers.location);
    // 100,000 bytes of a 200,000-byte append arrive, then the connection drops (one chunk whole, the next in part).
    await cutCall(server.url, 'PATCH', path, { ...appendHeaders(0, false), 'content-length': 200_000 }, data.subarray(0, 100_000));
    await expect.poll(async () => (await head(path)).headers['upload-offset'], { timeout: 10_000 }).toBe('100000');
    const rest = await draftCall(server.url, 'PATCH', path, { headers: appendHeaders(100_000, true), body: data.subarray(100_000) });
    expect(rest.status).toBe(201);
    expect(rest.headers['upload-complete']).toBe('?1');
    const file = await downloadedFile(path);
    expect(sha(file.bytes)).toBe(sha(data));
  });

  it('refuses an offset retrieval that carries Upload-Offset or Upload-Complete', async () => {
    const created = await draftCall(server.url, 'POST', '/tus/', { headers: { 'upload-draft-interop-version': v, 'upload-complete': '?0' } });
    const path = pathOf(created.headers.location);
    expect((await draftCall(server.url, 'HEAD', path, { headers: { 'upload-draft-interop-version': v, 'upload-offset': '0' } })).status).toBe(400);
    expect((await draftCall(server.url, 'HEAD', path, { headers: { 'upload-draft-interop-version': v, 'upload-complete': '?0' } })).status).toBe(400);
  });
});

describe('version differences and discovery', () => {
  it('-05 (version 6) refuses an append that is not application/partial-upload with 415', async () => {
    const created = await draftCall(server.url, 'POST', '/tus/', { headers: { 'upload-draft-interop-version': '6', 'upload-complete': '?0', 'upload-length': 10 } });
    const path = pathOf(created.headers.location);
    const wrong = await draftCall(server.url, 'PATCH', path, {
      headers: { 'upload-draft-interop-version': '6', 'upload-offset': '0', 'upload-complete': '?1', 'content-type': 'application/offset+octet-stream' },
      body: bytes(10),
    });
    expect(wrong.status).toBe(415);
    expect(wrong.headers['content-type']).toBe('application/problem+json');
    const none = await draftCall(server.url, 'PATCH', path, { headers: { 'upload-draft-interop-version': '6', 'upload-offset': '0', 'upload-complete': '?1' }, body: bytes(10) });
    expect(none.status).toBe(415);
  });

  it('accepts the older Upload-Incomplete as the inverse of Upload-Complete', async () => {
    const data = bytes(2000);
    const created = await draftCall(server.url, 'POST', '/tus/', { headers: { 'upload-draft-interop-version': '5', 'upload-incomplete': '?1' }, body: data.subarray(0, 500) });
    expect(created.status).toBe(201);
    expect(created.headers['upload-complete']).toBe('?0');
    const path = pathOf(created.headers.location);
    const last = await draftCall(server.url, 'PATCH', path, { headers: { 'upload-draft-interop-version': '5', 'upload-offset': '500', 'upload-incomplete': '?0' }, body: data.subarray(500) });
    expect(last.status).toBe(201);
    expect(last.headers['upload-complete']).toBe('?1');
    expect(sha((await downloadedFile(path)).bytes)).toBe(sha(data));
  });

  it('completes an empty upload of known length at creation', async () => {
    const created = await draftCall(server.url, 'POST', '/tus/', { headers: { 'upload-draft-interop-version': '6', 'upload-complete': '?0', 'upload-length': 0 } });
    expect(created.status).toBe(201);
    expect(created.headers['upload-complete']).toBe('?1');
    expect((await downloadedFile(pathOf(created.headers.location))).bytes.length).toBe(0);
  });

  it('sends the 104 only where it belongs: a kept-alive connection carries the next exchange intact', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    let connections = 0;
    const count = () => connections++;
    server.server.on('connection', count);
    try {
      const locations = new Set<string>();
      for (let i = 0; i < 3; i++) {
        const data = bytes(10_000 + i);
        const r = await draftCall(server.url, 'POST', '/tus/', { headers: { 'upload-draft-interop-version': '6', 'upload-complete': '?1', 'content-type': 'application/partial-upload' }, body: data, agent });
        expect(r.status).toBe(201);
        expect(r.interim.map((x) => x.status)).toEqual([104]);
        expect(r.interim[0]!.headers.location).toBe(r.headers.location);
        expect(r.interim[0]!.headers['upload-limit']).toMatch(/max-size=\d+/);
        locations.add(String(r.headers.location));
        const offset = await draftCall(server.url, 'HEAD', pathOf(r.headers.location), { headers: { 'upload-draft-interop-version': '6' }, agent });
        expect(offset.status).toBe(204);
        expect(offset.interim).toEqual([]);
        expect(offset.headers['upload-offset']).toBe(String(data.length));
      }
      expect(locations.size).toBe(3);
      expect(connections).toBe(1); // one connection throughout
    } finally {
      server.server.off('connection', count);
      agent.destroy();
    }
  });

  it('sends no 104 to an HTTP/1.0 client or through a proxy', async () => {
    const viaProxy = await draftCall(server.url, 'POST', '/tus/', { headers: { 'upload-draft-interop-version': '6', 'upload-complete': '?1', via: '1.1 proxy' }, body: bytes(100) });
    expect(viaProxy.status).toBe(201);
    expect(viaProxy.interim).toEqual([]);

    const { hostname, port } = new URL(server.url);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), hostname);
      const parts: Buffer[] = [];
      socket.on('data', (p) => parts.push(p));
      socket.on('end', () => resolve(Buffer.concat(parts).toString('latin1')));
      socket.on('error', reject);
      socket.write(`POST /tus/ HTTP/1.0\r\nHost: ${hostname}:${port}\r\nUpload-Draft-Interop-Version: 6\r\nUpload-Complete: ?1\r\nContent-Length: 5\r\n\r\nhello`);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 201 /);
    expect(raw).not.toMatch(/ 104 /);
  });

  it('refuses an interop version it does not speak', async () => {
    const r = await draftCall(server.url, 'POST', '/tus/', { headers: { 'upload-draft-interop-version': '99', 'upload-complete': '?1' }, body: bytes(10) });
    expect(r.status).toBe(400);
    expect(r.headers['content-type']).toBe('application/problem+json');
  });

  it('answers OPTIONS with Upload-Limit', async () => {
    const r = await draftCall(server.url, 'OPTIONS', '/tus/', { headers: { 'upload-draft-interop-version': '6' } });
    expect(r.status).toBeLessThan(300);
    expect(r.headers['upload-limit']).toMatch(/min-size=0/);
    expect(r.headers['upload-limit']).toMatch(/max-size=\d+/);
  });
});
