// The download engine's small parts on their own: file names, the sidecar, manifest checks, the
// journal's batching and ordering, the idle watchdog.
import { describe, expect, it } from 'vitest';
import { startDownload } from '../../src/client/download/download.js';
import { createHasher } from '../../src/client/node/hasher.js';
import { Exchange } from '../../src/client/download/http.js';
import type { DownloadTarget, PartFile } from '../../src/client/download/io.js';
import { Journal } from '../../src/client/download/journal.js';
import { fileNameFromDisposition, sanitizeFileName, suggestFileName } from '../../src/client/download/name.js';
import { etagOfChunks, planBySize, planFromManifest } from '../../src/client/download/plan.js';
import { manifestUrl, rangeValidator, type RemoteInfo } from '../../src/client/download/probe.js';
import { doneChunks, initialState, parseState, resumeRefusal, serializeState } from '../../src/client/download/state.js';
import { NetworkError } from '../../src/client/engine/errors.js';
import type { FileManifest } from '../../src/protocol/index.js';
import { etagOf } from '../../src/server/completion.js';
import { sha256Field } from '../helpers/digest.js';
import { FakeClock } from '../client/support/fake-clock.js';

describe('file names', () => {
  it('prefers filename* (RFC 8187) and unescapes quoted filename', () => {
    expect(fileNameFromDisposition(`attachment; filename="r_sum_.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf`)).toBe('résumé.pdf');
    expect(fileNameFromDisposition(`attachment; filename*=iso-8859-1'en'%E9t%E9.txt`)).toBe('été.txt');
    expect(fileNameFromDisposition('attachment; filename="a \\"b\\".txt"')).toBe('a "b".txt');
    expect(fileNameFromDisposition('attachment; filename=plain.bin')).toBe('plain.bin');
    expect(fileNameFromDisposition(`attachment; filename="ok.bin"; filename*=UTF-8''%ZZ`)).toBe('ok.bin');
    expect(fileNameFromDisposition('inline')).toBeNull();
    expect(fileNameFromDisposition(null)).toBeNull();
  });

  it('keeps only a safe base name', () => {
    expect(sanitizeFileName('../../etc/passwd')).toBe('passwd');
    expect(sanitizeFileName('..\\..\\win.ini')).toBe('win.ini');
    expect(sanitizeFileName('..')).toBeNull();
    expect(sanitizeFileName('a/..')).toBeNull();
    expect(sanitizeFileName('.bashrc')).toBe('_bashrc');
    expect(sanitizeFileName('bad\u0000\u001fname\n.txt')).toBe('badname.txt');
    expect(new TextEncoder().encode(sanitizeFileName('é'.repeat(300))!).byteLength).toBeLessThanOrEqual(255);
  });

  it("falls back to the URL's last segment, then to 'download'", () => {
    expect(suggestFileName(null, 'http://h/dir/big%20file.iso?x=1')).toBe('big file.iso');
    expect(suggestFileName('../', 'http://h/files/abc')).toBe('abc');
    expect(suggestFileName(null, 'http://h/')).toBe('download');
    expect(suggestFileName(null, 'http://h/%2e%2e')).toBe('download');
  });
});

const remote = (over: Partial<RemoteInfo> = {}): RemoteInfo => ({
  url: 'http://h/f',
  finalUrl: 'http://h/f',
  mode: 'ranges',
  size: 100,
  etag: '"v1"',
  lastModified: 'Wed, 25 Nov 2026 15:10:00 GMT',
  reprDigest: null,
  fileName: null,
  manifest: null,
  ...over,
});

describe('sidecar state', () => {
  it('round-trips, with done chunks as ranges', () => {
    const text = serializeState(initialState(remote(), 10), [7, 0, 1, 2, 9], 0);
    const state = parseState(text)!;
    expect(state).toMatchObject({ url: 'http://h/f', etag: '"v1"', size: 100, chunkSize: 10, done: '0-2,7,9' });
    expect(doneChunks(state, 10)).toEqual([0, 1, 2, 7, 9]);
    expect(doneChunks({ ...state, done: '0-99999999' }, 10)).toBeNull();
    expect(parseState('{"version":2}')).toBeNull();
    expect(parseState('not json')).toBeNull();
  });

  it('resumes only the same URL, size and validator', () => {
    const state = initialState(remote(), 10);
    expect(resumeRefusal(state, remote())).toBeNull();
    expect(resumeRefusal(state, remote({ etag: '"v2"' }))).toEqual({ kind: 'remote-changed', message: 'remote changed, starting over' });
    expect(resumeRefusal(state, remote({ size: 101 }))?.kind).toBe('remote-changed');
    expect(resumeRefusal(state, remote({ url: 'http://h/g' }))?.kind).toBe('cannot-resume');
    expect(resumeRefusal(state, remote({ mode: 'stream' }))?.message).toMatch(/does not accept ranges/);
    expect(resumeRefusal(state, remote({ etag: null, lastModified: null }))?.message).toMatch(/neither ETag nor Last-Modified/);
    const dated = initialState(remote({ etag: null }), 10);
    expect(resumeRefusal(dated, remote({ etag: null }))).toBeNull();
    expect(resumeRefusal(dated, remote({ etag: null, lastModified: 'Thu, 26 Nov 2026 15:10:00 GMT' }))?.kind).toBe('remote-changed');
  });

  it('If-Range uses a strong ETag, else Last-Modified', () => {
    expect(rangeValidator(remote())).toBe('"v1"');
    expect(rangeValidator(remote({ etag: 'W/"weak"' }))).toBe('Wed, 25 Nov 2026 15:10:00 GMT');
    expect(rangeValidator(remote({ etag: null, lastModified: null }))).toBeNull();
  });

  it('the manifest URL keeps a query string at the end', () => {
    expect(manifestUrl('http://h/files/abc?token=1')).toBe('http://h/files/abc/manifest?token=1');
    expect(manifestUrl('http://h/files/abc/')).toBe('http://h/files/abc/manifest');
  });
});

describe('pieces and manifests', () => {
  const digests = [sha256Field(Buffer.from('a')), sha256Field(Buffer.from('b')), sha256Field(Buffer.from('c'))];
  const manifest = (over: Partial<FileManifest> = {}): FileManifest => ({
    fileId: 'f',
    fileUrl: 'http://h/files/f',
    name: 'x',
    size: 25,
    chunkSize: 10,
    totalChunks: 3,
    checksum: 'sha-256',
    fileDigest: null,
    metadata: {},
    createdAt: '2026-11-25T15:10:00.000Z',
    etag: etagOf(digests),
    chunks: digests.map((digest, index) => ({ index, offset: index * 10, size: index === 2 ? 5 : 10, digest })),
    ...over,
  });

  it('derives the ETag exactly as the server does', async () => {
    expect(await etagOfChunks(digests, createHasher())).toBe(etagOf(digests));
  });

  it('takes a manifest only when its chunks tile the file', () => {
    expect(planFromManifest(manifest()).pieces.map((p) => [p.start, p.end])).toEqual([[0, 10], [10, 20], [20, 25]]);
    expect(() => planFromManifest(manifest({ size: 26 }))).toThrow(/inconsistent/);
    expect(() => planFromManifest(manifest({ chunks: manifest().chunks.slice(0, 2) }))).toThrow(/inconsistent/);
    const shifted = manifest().chunks.map((c, i) => (i === 1 ? { ...c, offset: 11 } : c));
    expect(() => planFromManifest(manifest({ chunks: shifted }))).toThrow(/chunk 1/);
  });

  it('a 0-byte file is one empty piece', () => {
    expect(planBySize(0, 8)).toEqual({ size: 0, chunkSize: 8, pieces: [{ index: 0, start: 0, end: 0, digest: null }] });
  });
});

describe('journal', () => {
  function fakeTarget() {
    const log: string[] = [];
    const target = {
      path: '/x',
      writeState: async (text: string) => void log.push(`state ${JSON.parse(text).done}`),
    } as unknown as DownloadTarget;
    const part = { sync: async () => void log.push('sync') } as unknown as PartFile;
    return { log, target, part };
  }
  const settle = () => new Promise((r) => setImmediate(r));

  it('batches finished chunks: syncs the .part, then writes the sidecar, at most once per interval', async () => {
    const clock = new FakeClock();
    const { log, target, part } = fakeTarget();
    const journal = new Journal({ target, part, clock, intervalMs: 200 }, initialState(remote(), 10), [0]);
    await journal.flush();
    expect(log).toEqual(['sync', 'state 0']);
    journal.markDone(1);
    journal.markDone(2);
    await settle();
    expect(log).toHaveLength(2);
    clock.advance(200);
    await expect.poll(() => log.length).toBe(4);
    expect(log.slice(2)).toEqual(['sync', 'state 0-2']);
    journal.markDone(5);
    await journal.close();
    expect(log.slice(4)).toEqual(['sync', 'state 0-2,5']);
  });

  it('a failed flush surfaces at the next chunk', async () => {
    const clock = new FakeClock();
    const { target } = fakeTarget();
    const part = { sync: async () => Promise.reject(new Error('EIO')) } as unknown as PartFile;
    const journal = new Journal({ target, part, clock, intervalMs: 0 }, initialState(remote(), 10), []);
    await expect(journal.flush()).rejects.toThrow('EIO');
    expect(() => journal.markDone(1)).toThrow('EIO');
  });
});

describe('request watchdog', () => {
  it('drops a request that receives nothing for idleTimeoutMs', async () => {
    const clock = new FakeClock();
    const hang = (_url: string, init: RequestInit) =>
      new Promise<Response>((_, reject) => init.signal!.addEventListener('abort', () => reject(init.signal!.reason)));
    const opened = Exchange.open({ fetch: hang, clock, headers: {}, idleTimeoutMs: 30_000 }, 'GET', 'http://h/f', {}, new AbortController().signal);
    clock.advance(29_999);
    clock.advance(1);
    const err = await opened.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect(err).toMatchObject({ timeout: true });
  });

  it('a body that keeps coming is not cut, however long it takes', async () => {
    const clock = new FakeClock();
    let push!: (bytes: Uint8Array | null) => void;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        push = (b) => (b ? c.enqueue(b) : c.close());
      },
    });
    const fetchFn = async () => new Response(body, { status: 200 });
    const ex = await Exchange.open({ fetch: fetchFn, clock, headers: {}, idleTimeoutMs: 1000 }, 'GET', 'http://h/f', {}, new AbortController().signal);
    const reading = ex.readExact(3);
    for (let i = 0; i < 3; i++) {
      clock.advance(900);
      push(new Uint8Array([i]));
      await new Promise((r) => setImmediate(r));
    }
    push(null);
    expect((await reading).map((p) => p[0])).toEqual([0, 1, 2]);
    ex.close();
  });
});

describe('handle', () => {
  it('an already aborted signal: result rejects with aborted and nothing is requested (no throw from download())', async () => {
    const calls: string[] = [];
    const fetch = async (url: string) => {
      calls.push(url);
      return new Response('');
    };
    const ctl = new AbortController();
    ctl.abort();
    const handle = startDownload('http://h/f', { path: '/x' } as unknown as DownloadTarget, { fetch, hasher: createHasher(), signal: ctl.signal });
    await expect(handle.result).rejects.toMatchObject({ name: 'DownloadError', reason: 'aborted' });
    expect(calls).toEqual([]);
  });
});
