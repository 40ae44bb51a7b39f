// The HTTP layer: headers sent, URLs resolved, problems and bare errors mapped, timeouts, validation.
import { describe, expect, it } from 'vitest';
import { FerryApi } from '../../src/client/upload/api.js';
import { NetworkError } from '../../src/client/engine/errors.js';
import { UploadError } from '../../src/client/upload/errors.js';
import type { Transport } from '../../src/client/engine/io.js';
import { systemClock } from '../../src/client/engine/clock.js';
import { FerryError, Headers, PROTOCOL_VERSION } from '../../src/protocol/index.js';

const status = {
  uploadId: 'u1', uploadUrl: '/ferry/uploads/u1', state: 'uploading', name: 'a', size: 10, chunkSize: 4, totalChunks: 3,
  checksum: 'sha-256', fileDigest: null, metadata: {}, chunksReceived: 0, bytesReceived: 0, missing: '0-2',
  createdAt: '2026-01-01T00:00:00Z', expiresAt: '2026-01-02T00:00:00Z', fileId: null, fileUrl: null,
};

function api(fetch: Transport, timeoutMs = 5000) {
  return new FerryApi({ server: 'http://host.test/ferry/', fetch, clock: systemClock, timeoutMs: () => timeoutMs, headers: { authorization: 'Bearer t' } });
}

function recorder(respond: () => Response) {
  const calls: { url: string; init: RequestInit }[] = [];
  const fetch: Transport = async (url, init) => {
    calls.push({ url, init });
    return respond();
  };
  return { calls, fetch };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

describe('FerryApi', () => {
  it('keeps the server path prefix and resolves relative URLs in responses', async () => {
    const r = recorder(() => json(201, { ...status, firstChunk: null }));
    const res = await api(r.fetch).create({ name: 'a', size: 10 }, new AbortController().signal);
    expect(r.calls[0]!.url).toBe('http://host.test/ferry/uploads');
    expect(res.uploadUrl).toBe('http://host.test/ferry/uploads/u1');
  });

  it('sends the version, the extra headers, and creation params as base64url JSON with the first chunk', async () => {
    const r = recorder(() => json(201, { ...status, firstChunk: null }));
    const bytes = new Uint8Array([1, 2, 3]);
    await api(r.fetch).createWithFirstChunk({ name: 'ü?>', size: 3, chunkSize: 1024 }, { bytes, digest: 'sha-256=:x:' }, new AbortController().signal);
    const h = new globalThis.Headers(r.calls[0]!.init.headers);
    expect(h.get(Headers.version)).toBe(String(PROTOCOL_VERSION));
    expect(h.get('authorization')).toBe('Bearer t');
    expect(h.get(Headers.contentDigest)).toBe('sha-256=:x:');
    expect(h.get('content-type')).toBe('application/octet-stream');
    const params = h.get(Headers.uploadParams)!;
    expect(params).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(JSON.parse(Buffer.from(params, 'base64url').toString('utf8'))).toEqual({ name: 'ü?>', size: 3, chunkSize: 1024 });
    expect(r.calls[0]!.init.body).toBe(bytes);
  });

  it('puts a chunk at the upload URL and checks the acknowledgement is for it', async () => {
    const ack = { uploadId: 'u1', index: 2, size: 2, digest: 'sha-256=:d:', duplicate: false, chunksReceived: 1, totalChunks: 3, state: 'uploading', complete: false, fileId: null, fileUrl: null };
    const r = recorder(() => json(201, ack));
    const a = api(r.fetch);
    await a.putChunk('http://host.test/ferry/uploads/u1', 'u1', 2, { bytes: new Uint8Array(2), digest: 'sha-256=:d:' }, new AbortController().signal);
    expect(r.calls[0]!.url).toBe('http://host.test/ferry/uploads/u1/chunks/2');
    expect(r.calls[0]!.init.method).toBe('PUT');
    const wrong = await a.putChunk('http://host.test/ferry/uploads/u1', 'u1', 1, { bytes: new Uint8Array(2), digest: 'sha-256=:d:' }, new AbortController().signal).catch((e: unknown) => e);
    expect(wrong).toMatchObject({ reason: 'protocol' });
  });

  it('turns problem+json into the FerryError it names, with Retry-After', async () => {
    const r = recorder(() => new Response(JSON.stringify({ type: 'urn:ferry:problem:chunk-in-progress', title: 't', status: 409, detail: 'busy' }), { status: 409, headers: { 'content-type': 'application/problem+json', 'retry-after': '2' } }));
    const err = (await api(r.fetch).status('http://host.test/ferry/uploads/u1', new AbortController().signal).catch((e: unknown) => e)) as FerryError;
    expect(err).toBeInstanceOf(FerryError);
    expect(err).toMatchObject({ code: 'chunk-in-progress', status: 409, message: 'busy' });
    expect(err.extensions.retryAfter).toBe('2');
  });

  it('maps bare error statuses from proxies by status', async () => {
    const err = (await api(async () => new Response('<html>Bad Gateway</html>', { status: 502, statusText: 'Bad Gateway' })).capabilities(new AbortController().signal).catch((e: unknown) => e)) as FerryError;
    expect(err).toMatchObject({ code: 'service-unavailable', status: 502 });
  });

  it('reports a fetch failure as NetworkError and a slow request as a timeout', async () => {
    const down = await api(async () => {
      throw new TypeError('fetch failed');
    }).capabilities(new AbortController().signal).catch((e: unknown) => e);
    expect(down).toBeInstanceOf(NetworkError);
    expect((down as NetworkError).timeout).toBe(false);
    const hang: Transport = (_url, init) => new Promise((_, reject) => init.signal!.addEventListener('abort', () => reject(init.signal!.reason)));
    const slow = await api(hang, 20).status('http://host.test/ferry/uploads/u1', new AbortController().signal).catch((e: unknown) => e);
    expect(slow).toBeInstanceOf(NetworkError);
    expect((slow as NetworkError).timeout).toBe(true);
  });

  it('rejects with the caller’s reason when the caller aborts', async () => {
    const hang: Transport = (_url, init) => new Promise((_, reject) => init.signal!.addEventListener('abort', () => reject(init.signal!.reason)));
    const ctl = new AbortController();
    const p = api(hang).status('http://host.test/ferry/uploads/u1', ctl.signal);
    ctl.abort(new Error('mine'));
    await expect(p).rejects.toThrow('mine');
  });

  it('rejects a response that is not the protocol; a non-Ferry server is "invalid"', async () => {
    const bad = await api(async () => json(200, { hello: 1 })).status('http://host.test/ferry/uploads/u1', new AbortController().signal).catch((e: unknown) => e);
    expect(bad).toMatchObject({ reason: 'protocol' });
    const html = await api(async () => new Response('<html>', { status: 200 })).capabilities(new AbortController().signal).catch((e: unknown) => e);
    expect(html).toBeInstanceOf(UploadError);
    expect((html as UploadError).reason).toBe('invalid');
  });
});
