// The upload engine against an in-memory fake server: the flow, resume, retries, pause, abort.
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MemoryResumeStore, UploadError, bytesSource, upload, type Progress, type UploadOptions } from '../../src/client/node/index.js';
import { byteDifference } from './support/bytes.js';
import { FakeServer } from './support/fake-server.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const fast = { baseDelayMs: 1, maxDelayMs: 5 };

function setup(size: number, extra: Partial<UploadOptions> = {}) {
  const server = new FakeServer();
  const data = new Uint8Array(randomBytes(size));
  const store = new MemoryResumeStore();
  const source = bytesSource(data, { name: 'data.bin', fingerprint: ['data.bin', size] });
  const options: UploadOptions = { server: server.base, fetch: server.fetch, resumeStore: store, chunkSize: 4 * KiB, retry: fast, ...extra };
  return { server, data, store, source, options };
}

const putsOf = (server: FakeServer) => server.log.filter((l) => l.startsWith('PUT'));
/** The resume store key of setup()'s source. */
const keyFor = (server: FakeServer, size: number) => JSON.stringify([server.base, 'data.bin', size]);

/** The fake server's fetch, with its answer to the first POST (the creation, stored by then) held back until release(). */
function holdCreation(server: FakeServer) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let reached!: () => void;
  const created = new Promise<void>((resolve) => (reached = resolve));
  let first = true;
  const fetch = async (url: string, init: RequestInit): Promise<Response> => {
    const res = await server.fetch(url, init);
    if (init.method === 'POST' && first) {
      first = false;
      reached();
      // As fetch does: a cancelled request rejects, its answer never read.
      const signal = init.signal!;
      await new Promise<void>((resolve, reject) => {
        if (signal.aborted) reject(signal.reason);
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        void released.then(resolve);
      });
    }
    return res;
  };
  return { fetch, created, release };
}

describe('upload (fresh)', () => {
  it('creates the upload empty, sends every chunk once each (in parallel, chunk 0 too), and reports the file', async () => {
    const { server, data, source, options, store } = setup(10 * 4 * KiB + 17);
    const handle = upload(source, options);
    const events: Progress[] = [];
    const started: unknown[] = [];
    const remembered: unknown[] = [];
    handle.on('progress', (p) => events.push(p));
    handle.on('started', (s) => {
      started.push(s);
      void store.get(keyFor(server, data.length)).then((e) => remembered.push(e?.uploadId));
    });
    const result = await handle.result;

    expect(server.log[0]).toBe('GET /capabilities');
    expect(server.log[1]).toBe('POST /uploads');
    // Chunk 0 does not go alone with the creation: on a long link that cost a whole chunk's time.
    expect(putsOf(server)).toHaveLength(11);
    expect([...server.puts.values()].every((n) => n === 1)).toBe(true);
    expect(byteDifference(server.fileBytes(result.uploadId), data)).toBeNull();
    expect(result).toMatchObject({ size: data.length, chunks: 11, digest: null, resumed: false, bytesSent: data.length });
    expect(result.fileUrl).toBe(`${server.base}/files/${result.fileId}`);
    expect(started).toEqual([expect.objectContaining({ uploadId: result.uploadId, resumed: false, totalChunks: 11, chunkSize: 4 * KiB })]);
    expect(events.at(-1)).toMatchObject({ phase: 'done', bytesAcked: data.length, chunksDone: 11, totalChunks: 11, bytesInFlight: 0, etaSeconds: 0 });
    expect(events.some((e) => e.bytesInFlight > 0)).toBe(true);
    expect(remembered).toEqual([result.uploadId]);
    expect(await store.get(keyFor(server, data.length))).toBeUndefined();
  });

  it('uploads an empty file in one request', async () => {
    const { server, source, options } = setup(0);
    const result = await upload(source, options).result;
    expect(server.log).toEqual(['GET /capabilities', 'POST /uploads']);
    expect(result).toMatchObject({ size: 0, chunks: 1 });
  });

  it("on a long link (a first request of 20 ms or more) picks smaller chunks than the server's default, for a file of fewer than 64", async () => {
    // (Without latency the first request may still take 20 ms on a busy machine: only the long link is asserted.)
    for (const [requested, chunkSize] of [[undefined, 1 * MiB], [2 * MiB, 2 * MiB]] as const) {
      const { server, data, source, options } = setup(4 * MiB, { chunkSize: requested });
      server.caps.defaultChunkSize = 8 * MiB;
      server.latencyMs = 30;
      const result = await upload(source, options).result;
      // A chunk size the caller asked for is kept.
      expect(server.uploads.get(result.uploadId)!.req.chunkSize, `asked for ${requested}`).toBe(chunkSize);
      expect(byteDifference(server.fileBytes(result.uploadId), data)).toBeNull();
    }
  });

  it('a resumed upload on a long link starts its ramp from 16 in flight, as a fresh one does', async () => {
    const { server, source, options, store } = setup(40 * 4 * KiB);
    server.fault = (i) => (i === 2 ? 'internal-error' : undefined);
    await upload(source, { ...options, concurrency: 1, retry: { ...fast, maxAttempts: 1 } }).result.catch(() => {});
    expect(server.maxInFlight).toBe(1);
    server.fault = () => undefined;
    server.latencyMs = 30;
    const result = await upload(source, { ...options, resumeStore: store }).result;
    expect(result.resumed).toBe(true);
    // 4 KiB chunks are too small to be rate samples: nothing but the long link raises the start above 4.
    expect(server.maxInFlight).toBe(16);
  });

  it('continues a chunk cut part-way from what the server kept, asking a status made after the cut', async () => {
    const { server, data, source, options } = setup(3 * 4 * KiB, { concurrency: 2 });
    server.fault = (i, attempt) => (attempt === 1 && i <= 1 ? { cutAfter: i === 0 ? 1000 : 2000 } : undefined);
    // Chunk 1 is cut while the status chunk 0's cut asked for is on its way, answered as of before
    // chunk 1's cut: joining it, chunk 1 would go again whole.
    let statusTaken!: () => void;
    const taken = new Promise<void>((resolve) => (statusTaken = resolve));
    let chunk1Cut!: () => void;
    const cut = new Promise<void>((resolve) => (chunk1Cut = resolve));
    let held = false;
    server.beforeStatusAnswer = async () => {
      if (held) return;
      held = true;
      statusTaken();
      await cut;
    };
    server.beforePut = async (i, attempt) => {
      if (i !== 1 || attempt !== 1) return;
      await taken;
      setImmediate(chunk1Cut); // once the client has taken in this cut
    };
    const result = await upload(source, options).result;
    expect(server.putOffsets.filter((p) => !p.endsWith('@0'))).toEqual(expect.arrayContaining(['0@1000', '1@2000']));
    expect(server.putOffsets.filter((p) => p.startsWith('1@'))).toEqual(['1@0', '1@2000']);
    expect(byteDifference(server.fileBytes(result.uploadId), data)).toBeNull();
  });

  it('a file of one chunk goes in one request, its creation', async () => {
    const { server, data, source, options } = setup(3 * KiB);
    const result = await upload(source, options).result;
    expect(server.log.filter((l) => !l.startsWith('GET'))).toEqual(['POST /uploads']);
    expect(putsOf(server)).toHaveLength(0);
    expect(byteDifference(server.fileBytes(result.uploadId), data)).toBeNull();
  });

  it('creates with JSON first when the server cannot take a first chunk', async () => {
    const { server, data, source, options } = setup(3 * 4 * KiB);
    server.caps.creationWithFirstChunk = false;
    const result = await upload(source, options).result;
    expect(putsOf(server)).toHaveLength(3);
    expect(byteDifference(server.fileBytes(result.uploadId), data)).toBeNull();
  });

  it('keeps to a fixed concurrency; 1 is sequential', async () => {
    for (const concurrency of [1, 3]) {
      const { server, source, options } = setup(20 * 4 * KiB);
      server.latencyMs = 5;
      await upload(source, { ...options, concurrency }).result;
      expect(server.maxInFlight).toBe(concurrency);
    }
  });

  it('computes and declares the whole-file digest when asked', async () => {
    const { data, source, options, server } = setup(5 * 4 * KiB + 3);
    const result = await upload(source, { ...options, fileDigest: 'compute' }).result;
    const expected = `sha-256=:${createHash('sha256').update(data).digest('base64')}:`;
    expect(result.digest).toBe(expected);
    expect(server.uploads.get(result.uploadId)!.req.fileDigest).toBe(expected);
  });

  it("the first progress event ('starting') reports nothing sent yet, also when chunk 0 goes with the creation", async () => {
    for (const [size, firstChunk] of [[3 * KiB, true], [10 * 4 * KiB + 17, true], [3 * 4 * KiB, false]] as const) {
      const { server, source, options } = setup(size);
      server.caps.creationWithFirstChunk = firstChunk;
      const handle = upload(source, options);
      const events: Progress[] = [];
      handle.on('progress', (p) => events.push(p));
      await handle.result;
      expect(events[0], `${size} bytes, first chunk ${firstChunk}`).toMatchObject({
        phase: 'starting',
        totalBytes: size,
        bytesSent: 0,
        bytesInFlight: 0,
        bytesAcked: 0,
        chunksDone: 0,
        inFlight: 0,
      });
    }
  });

  it("a resumed upload's first progress event reports what the server already has, nothing sent", async () => {
    const { server, source, options, store } = setup(6 * 4 * KiB);
    server.fault = (i) => (i === 4 ? 'internal-error' : undefined);
    await upload(source, { ...options, concurrency: 1, retry: { ...fast, maxAttempts: 1 } }).result.catch(() => {});
    server.fault = () => undefined;
    const handle = upload(source, { ...options, resumeStore: store });
    const events: Progress[] = [];
    handle.on('progress', (p) => events.push(p));
    expect((await handle.result).resumed).toBe(true);
    // Chunks 0-3 went in before chunk 4 failed.
    expect(events[0]).toMatchObject({ phase: 'starting', bytesSent: 0, bytesInFlight: 0, bytesAcked: 4 * 4 * KiB, chunksDone: 4 });
  });

  it('refuses a file larger than the server accepts before creating anything', async () => {
    const { server, source, options } = setup(100);
    server.caps.maxFileSize = 99;
    const err = await upload(source, options).result.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UploadError);
    expect((err as UploadError).problem?.code).toBe('file-too-large');
    expect(server.log).toEqual(['GET /capabilities']);
  });
});

describe('upload (failures)', () => {
  it('after a lost response asks status and does not resend a stored chunk', async () => {
    const { server, data, source, options } = setup(8 * 4 * KiB);
    server.fault = (i, n) => (i === 3 && n === 1 ? 'lost-response' : undefined);
    const result = await upload(source, options).result;
    expect(server.puts.get(`${result.uploadId}:3`)).toBe(1);
    expect(server.log).toContain(`GET /uploads/${result.uploadId}`);
    expect(byteDifference(server.fileBytes(result.uploadId), data)).toBeNull();
  });

  it('finds the upload complete by status when the completing response was lost', async () => {
    const { server, source, options } = setup(4 * 4 * KiB);
    server.fault = (i, n) => (i === 3 && n === 1 ? 'lost-response' : undefined);
    const result = await upload(source, { ...options, concurrency: 1 }).result;
    expect(result.fileId).toBe(`f-${result.uploadId}`);
    expect(server.puts.get(`${result.uploadId}:3`)).toBe(1);
  });

  it('re-reads and resends after a digest mismatch; waits out chunk-in-progress; retries 5xx', async () => {
    const { server, data, source, options } = setup(6 * 4 * KiB);
    const faults: Record<number, string> = { 1: 'digest-mismatch', 2: 'in-progress', 3: 'unavailable', 4: 'internal-error', 5: 'network-error' };
    server.fault = (i, n) => (n === 1 ? (faults[i] as never) : undefined);
    const handle = upload(source, options);
    const retries: string[] = [];
    handle.on('retry', (r) => retries.push(`${r.index}:${r.kind}`));
    const result = await handle.result;
    expect(retries.sort()).toEqual(['1:corrupt', '2:busy', '3:unreachable', '4:transient', '5:unreachable']);
    for (const i of [1, 2, 3, 4, 5]) expect(server.puts.get(`${result.uploadId}:${i}`)).toBe(2);
    expect(byteDifference(server.fileBytes(result.uploadId), data)).toBeNull();
  });

  it('survives the server going down for a while', async () => {
    const { server, data, source, options } = setup(10 * 4 * KiB);
    server.latencyMs = 2;
    const handle = upload(source, { ...options, retry: { ...fast, maxAttempts: 2 } });
    handle.on('progress', (p) => {
      if (p.chunksDone === 3 && !server.down) {
        server.down = true;
        setTimeout(() => (server.down = false), 150);
      }
    });
    const result = await handle.result;
    expect(byteDifference(server.fileBytes(result.uploadId), data)).toBeNull();
  });

  it('gives up after maxAttempts failures of one chunk, keeping the resume entry; the next call resumes', async () => {
    const { server, data, source, options, store } = setup(8 * 4 * KiB);
    server.fault = (i) => (i === 5 ? 'internal-error' : undefined);
    const err = (await upload(source, { ...options, retry: { ...fast, maxAttempts: 3 } }).result.catch((e: unknown) => e)) as UploadError;
    expect(err).toBeInstanceOf(UploadError);
    expect(err.reason).toBe('retries-exhausted');
    expect(err.problem?.code).toBe('internal-error');
    expect(err.uploadId).not.toBeNull();
    expect(server.puts.get(`${err.uploadId}:5`)).toBe(3);

    server.fault = () => undefined;
    server.log.length = 0;
    const again = await upload(source, { ...options, resumeStore: store }).result;
    expect(again).toMatchObject({ uploadId: err.uploadId, resumed: true });
    // Only chunks the server lacked went out, chunk 5 among them; none was stored twice.
    const resent = putsOf(server);
    expect(resent).toContain(`PUT /uploads/${err.uploadId}/chunks/5`);
    expect(again.bytesSent).toBe(resent.length * 4 * KiB);
    for (const [key, n] of server.puts) if (!key.endsWith(':5')) expect(n, key).toBe(1);
    expect(byteDifference(server.fileBytes(again.uploadId), data)).toBeNull();
  });

  it('stops at once on a fatal problem and forgets an upload that cannot be resumed', async () => {
    const { server, source, options, store } = setup(4 * 4 * KiB);
    const handle = upload(source, options);
    handle.on('started', ({ uploadId }) => void (server.uploads.get(uploadId)!.state = 'aborted'));
    const err = (await handle.result.catch((e: unknown) => e)) as UploadError;
    expect(err.reason).toBe('fatal');
    expect(err.problem?.code).toBe('upload-aborted');
    expect(await store.get(keyFor(server, 4 * 4 * KiB))).toBeUndefined();
  });
});

describe('upload (resume)', () => {
  it('returns the result of an upload that completed meanwhile without sending anything', async () => {
    const { server, source, options, store } = setup(3 * 4 * KiB);
    const first = await upload(source, options).result;
    const key = keyFor(server, 3 * 4 * KiB);
    await store.set(key, { uploadId: first.uploadId, uploadUrl: `${server.base}/uploads/${first.uploadId}`, serverUrl: server.base, name: 'data.bin', size: 3 * 4 * KiB, chunkSize: 4 * KiB, totalChunks: 3, createdAt: 0, expiresAt: Date.now() + 1e6 });
    server.log.length = 0;
    const again = await upload(source, options).result;
    expect(again).toMatchObject({ uploadId: first.uploadId, fileId: first.fileId, resumed: true, bytesSent: 0 });
    expect(server.log).toEqual(['GET /capabilities', `GET /uploads/${first.uploadId}`]);
  });

  it('starts over when the remembered upload is gone', async () => {
    const { server, source, options, store } = setup(3 * 4 * KiB);
    const key = keyFor(server, 3 * 4 * KiB);
    await store.set(key, { uploadId: 'gone', uploadUrl: `${server.base}/uploads/gone`, serverUrl: server.base, name: 'data.bin', size: 3 * 4 * KiB, chunkSize: 4 * KiB, totalChunks: 3, createdAt: 0, expiresAt: 0 });
    const result = await upload(source, options).result;
    expect(result.resumed).toBe(false);
    expect(server.log.slice(0, 3)).toEqual(['GET /capabilities', 'GET /uploads/gone', 'POST /uploads']);
  });

  it('does not resume a source without a fingerprint', async () => {
    const { server, data, options, store } = setup(3 * 4 * KiB);
    const result = await upload(bytesSource(data), options).result;
    expect(result.resumed).toBe(false);
    expect(server.log.filter((l) => l.startsWith('GET /uploads/'))).toEqual([]);
    void store;
  });
});

describe('upload (control)', () => {
  it('pause() starts no new chunks; resume() continues', async () => {
    const { server, data, source, options } = setup(12 * 4 * KiB);
    server.latencyMs = 3;
    // Counts the chunk PUTs that go out while paused: only chunks already executing at pause() may.
    let putsWhilePaused = 0;
    const handle = upload(source, {
      ...options,
      concurrency: 2,
      fetch: (url, init) => {
        if (init.method === 'PUT' && handle.paused) putsWhilePaused++;
        return server.fetch(url, init);
      },
    });
    let pausedAt = -1;
    let executingAtPause = -1;
    // Resolves with the first progress after pause() that shows nothing in flight: the engine has
    // drained what was running and is waiting on the gate. No sleep: the state is awaited.
    const drained = new Promise<Progress>((resolve) => {
      handle.on('progress', (p) => {
        if (p.chunksDone >= 4 && pausedAt < 0) {
          pausedAt = putsOf(server).length;
          executingAtPause = handle.progress().inFlight;
          handle.pause();
          return;
        }
        if (pausedAt >= 0 && handle.paused && p.phase === 'paused' && p.inFlight === 0) resolve(p);
      });
    });
    const settled = await Promise.race([drained, handle.result.then(() => 'finished' as const)]);
    expect(settled, 'the upload ran to the end through pause()').not.toBe('finished');
    expect(handle.paused).toBe(true);
    expect(handle.progress().phase).toBe('paused');
    expect(server.inFlight).toBe(0);
    expect(executingAtPause).toBeGreaterThan(0);
    expect(executingAtPause).toBeLessThanOrEqual(2);
    // Only requests already in flight when paused went out.
    expect(putsWhilePaused).toBeLessThanOrEqual(executingAtPause);
    expect(putsOf(server).length).toBeLessThanOrEqual(pausedAt + executingAtPause);
    const stoppedAt = handle.progress().chunksDone;
    expect(stoppedAt).toBeLessThan(12);
    // Nothing more moves while paused: a second look after the drain finds the same counts.
    await new Promise((r) => setImmediate(r));
    expect(handle.progress().chunksDone).toBe(stoppedAt);
    expect(handle.progress().inFlight).toBe(0);
    const putsBeforeResume = putsOf(server).length;
    handle.resume();
    expect(handle.progress().phase).toBe('transferring');
    const result = await handle.result;
    expect(byteDifference(server.fileBytes(result.uploadId), data)).toBeNull();
    expect(putsOf(server).length).toBeGreaterThan(putsBeforeResume);
    expect(putsWhilePaused).toBeLessThanOrEqual(executingAtPause);
  });

  it('abort() cancels, deletes the upload and forgets it', async () => {
    const { server, source, options, store } = setup(20 * 4 * KiB);
    server.latencyMs = 5;
    const handle = upload(source, options);
    handle.on('progress', (p) => {
      if (p.chunksDone === 3) void handle.abort();
    });
    const err = (await handle.result.catch((e: unknown) => e)) as UploadError;
    await handle.abort();
    expect(err.reason).toBe('aborted');
    expect(err.uploadId).toBe(handle.uploadId);
    expect(server.log.at(-1)).toBe(`DELETE /uploads/${handle.uploadId}`);
    expect(server.uploads.get(handle.uploadId!)!.state).toBe('aborted');
    expect(await store.get(keyFor(server, 20 * 4 * KiB))).toBeUndefined();
  });

  it('abort() while the creation is in flight waits for its answer and deletes the upload it made', async () => {
    const { server, source, options, store } = setup(20 * 4 * KiB);
    const held = holdCreation(server);
    const handle = upload(source, { ...options, fetch: held.fetch });
    await held.created;
    const aborted = handle.abort();
    held.release();
    await aborted;
    const err = (await handle.result.catch((e: unknown) => e)) as UploadError;
    expect(err.reason).toBe('aborted');
    const [id] = server.uploads.keys();
    expect(err.uploadId).toBe(id);
    expect(handle.creationUnanswered).toBe(false);
    expect(server.log.at(-1)).toBe(`DELETE /uploads/${id}`);
    expect(server.uploads.get(id!)!.state).toBe('aborted');
    expect(await store.get(keyFor(server, 20 * 4 * KiB))).toBeUndefined();
  });

  it('suspend() while the creation is in flight keeps the upload it made for the next call to resume', async () => {
    const { server, source, options, store } = setup(20 * 4 * KiB);
    const held = holdCreation(server);
    const handle = upload(source, { ...options, fetch: held.fetch });
    await held.created;
    const suspended = handle.suspend();
    expect(handle.creationUnanswered).toBe(true);
    held.release();
    await suspended;
    await expect(handle.result).rejects.toMatchObject({ reason: 'aborted', uploadId: handle.uploadId });
    expect(handle.uploadId).not.toBeNull();
    expect(server.log.filter((l) => l.startsWith('DELETE'))).toEqual([]);
    expect((await store.get(keyFor(server, 20 * 4 * KiB)))?.uploadId).toBe(handle.uploadId);
    const again = await upload(source, options).result;
    expect(again).toMatchObject({ uploadId: handle.uploadId, resumed: true });
    expect(server.log.filter((l) => l.startsWith('POST'))).toHaveLength(1);
  });

  it('options.signal aborts the same way', async () => {
    const { server, source, options } = setup(20 * 4 * KiB);
    server.latencyMs = 5;
    const ctl = new AbortController();
    const handle = upload(source, { ...options, signal: ctl.signal });
    handle.on('started', () => setTimeout(() => ctl.abort(), 10));
    const err = (await handle.result.catch((e: unknown) => e)) as UploadError;
    expect(err.reason).toBe('aborted');
    expect(server.log).toContain(`DELETE /uploads/${handle.uploadId}`);
  });

  it('an already aborted signal: result rejects with aborted, nothing is created (no throw from upload())', async () => {
    const { server, source, options } = setup(3 * 4 * KiB);
    const ctl = new AbortController();
    ctl.abort();
    const handle = upload(source, { ...options, signal: ctl.signal });
    await expect(handle.result).rejects.toMatchObject({ reason: 'aborted' });
    expect(server.log.filter((l) => l.startsWith('POST'))).toEqual([]);
  });

  it('rejects bad options through result, not by throwing', async () => {
    const { source, options } = setup(10);
    const err = (await upload(source, { ...options, server: 'not a url' }).result.catch((e: unknown) => e)) as UploadError;
    expect(err.reason).toBe('invalid');
    const missing = (await upload('/no/such/file', options).result.catch((e: unknown) => e)) as UploadError;
    expect(missing.reason).toBe('invalid');
  });
});
