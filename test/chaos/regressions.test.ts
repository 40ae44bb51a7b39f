// One regression test per bug the chaos suite found in the server, each reproducing the fault
// directly (a precise moment, a failing store call) rather than by chance.
import net from 'node:net';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type FerryServer } from '../../src/server/index.js';
import { openEmbeddedStores } from '../../src/stores/embedded.js';
import type { BlobStore, MetaStore } from '../../src/stores/types.js';
import { sha256Field } from '../helpers/digest.js';
import { call, chunkOf, create, putChunk, status } from '../helpers/http.js';
import { KiB, startTestServer, tempDir, testLimits } from '../helpers/server.js';
import { sendRaw } from './support/raw-http.js';
import { seededBytes } from './support/source.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function server(config: Parameters<typeof startTestServer>[0] = {}) {
  const s = await startTestServer(config);
  cleanups.push(() => s.dispose());
  return s;
}

/** A server over the embedded stores with some of their methods replaced. */
async function serverWith(dataDir: string, patch: (stores: { meta: MetaStore; blobs: BlobStore }) => void): Promise<FerryServer> {
  const stores = await openEmbeddedStores({ dataDir, fsync: false });
  patch(stores);
  const s = await startServer({ port: 0, host: '127.0.0.1', logLevel: 'silent', ...testLimits, dataDir, fsync: false }, stores);
  cleanups.push(() => s.close());
  return s;
}

function isProblem(res: { headers: Record<string, string>; body: Buffer }, status: number, code: string) {
  expect(res.headers['content-type']).toBe('application/problem+json');
  expect(JSON.parse(res.body.toString())).toMatchObject({ type: `urn:ferry:problem:${code}`, status });
}

/** Writes `head`, then one byte of `drip` per 200 ms, until the server answers or closes. */
function dripping(port: number, head: string, drip: string) {
  const started = Date.now();
  const sock = net.connect({ port, host: '127.0.0.1' });
  let text = '';
  let i = 0;
  const timer = setInterval(() => sock.write(drip[i++ % drip.length]!), 200);
  sock.on('error', () => {});
  sock.on('connect', () => sock.write(head));
  sock.setEncoding('latin1').on('data', (d: string) => (text += d));
  return new Promise<{ ms: number; text: string }>((resolve) => sock.once('close', () => (clearInterval(timer), resolve({ ms: Date.now() - started, text }))));
}

describe('timeouts (found by the slow-client scenario)', () => {
  it('a request timeout under 60 s starts the server (headersTimeout was fixed at 60 s, above it) and is enforced on time, not every 30 s', async () => {
    const s = await server({ requestTimeoutSeconds: 1, idleTimeoutSeconds: 5 });
    const { uploadId } = (await create(s.url, { name: 'slow', size: 4 * KiB, chunkSize: 4 * KiB })).body;
    const body = await dripping(s.port, `PUT /uploads/${uploadId}/chunks/0 HTTP/1.1\r\nhost: x\r\ncontent-digest: ${sha256Field(Buffer.alloc(4 * KiB))}\r\ncontent-length: ${4 * KiB}\r\n\r\n`, 'x');
    const head = await dripping(s.port, 'GET /capabilities HTTP/1.1\r\n', 'x-slow: 1\r\n');
    for (const r of [body, head]) {
      expect(r.text).toMatch(/^HTTP\/1\.1 408 /);
      expect(r.text).toMatch(/content-type: application\/problem\+json/);
      expect(r.text).toContain('urn:ferry:problem:request-timeout');
      expect(r.ms).toBeLessThan(2_500);
    }
    expect(s.ctx.chunkWrites.size).toBe(0);
  });

  it('an idle keep-alive connection is closed by the idle timeout (keepAliveTimeout was fixed at 65 s)', async () => {
    const s = await server({ idleTimeoutSeconds: 1 });
    const started = Date.now();
    const closed = new Promise<number>((resolve) => {
      const sock = net.connect({ port: s.port, host: '127.0.0.1' }, () => sock.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n'));
      sock.on('data', () => {});
      sock.on('error', () => {});
      sock.once('close', () => resolve(Date.now() - started));
    });
    expect(await closed).toBeLessThan(3_500);
  });
});

describe('answers node:http gives by itself (found by the fuzzer)', () => {
  it('a request that is not HTTP gets a 400 problem, not a bare status line', async () => {
    const s = await server();
    const x = await sendRaw(s.port, { pieces: [Buffer.from('\x01\x02 nonsense\r\n\r\n')], methods: ['GET'], end: false, timeoutMs: 5_000 });
    expect(x.responses).toHaveLength(1);
    isProblem(x.responses[0]!, 400, 'malformed-request');
  });

  it('headers over the limit get a 400 problem', async () => {
    const s = await server();
    const x = await sendRaw(s.port, { pieces: [Buffer.from(`GET /capabilities HTTP/1.1\r\nhost: x\r\nx-pad: ${'x'.repeat(20 * KiB)}\r\n\r\n`)], methods: ['GET'], end: false, timeoutMs: 5_000 });
    isProblem(x.responses[0]!, 400, 'malformed-request');
  });

  it('request targets starting with // are paths (new URL read them as hosts, and threw: 500)', async () => {
    const s = await server();
    for (const target of ['//////', '//capabilities', '//evil.example/capabilities']) {
      const x = await sendRaw(s.port, { pieces: [Buffer.from(`GET ${target} HTTP/1.1\r\nhost: x\r\n\r\n`)], methods: ['GET'], end: false, timeoutMs: 5_000 });
      isProblem(x.responses[0]!, 404, 'not-found');
    }
    const absolute = await sendRaw(s.port, { pieces: [Buffer.from(`GET http://x/capabilities HTTP/1.1\r\nhost: x\r\n\r\n`)], methods: ['GET'], end: false, timeoutMs: 5_000 });
    expect(absolute.responses[0]!.status).toBe(200);
  });
});

describe('storage failures (found by the disk-full and fuzz scenarios)', () => {
  it('a metadata store that fails after the body was read still answers (507 for a full disk), instead of leaving the client to time out', async () => {
    const dataDir = await tempDir();
    let failWith: string | null = 'SQLITE_FULL';
    const s = await serverWith(dataDir, ({ meta }) => {
      const record = meta.recordChunk.bind(meta);
      meta.recordChunk = async (...args) => {
        if (failWith) throw Object.assign(new Error('database or disk is full'), { code: failWith });
        return record(...args);
      };
    });
    const data = seededBytes(8 * KiB, 1);
    const { uploadId } = (await create(s.url, { name: 'full', size: data.length, chunkSize: 4 * KiB })).body;
    const full = await putChunk(s.url, uploadId, 0, chunkOf(data, 4 * KiB, 0));
    expect(full.status).toBe(507);
    expect(full.body.type).toBe('urn:ferry:problem:insufficient-storage');
    expect(s.ctx.metrics.get('ferry_chunks_failed_total', { code: 'insufficient-storage' })).toBe(1);
    failWith = 'SQLITE_IOERR';
    const broken = await putChunk(s.url, uploadId, 0, chunkOf(data, 4 * KiB, 0));
    expect(broken.status).toBe(500);
    expect(broken.body.type).toBe('urn:ferry:problem:internal-error');
    failWith = null;
    expect((await putChunk(s.url, uploadId, 0, chunkOf(data, 4 * KiB, 0))).status).toBe(201);
  });

  it('a create whose row cannot be written leaves no part file behind', async () => {
    const dataDir = await tempDir();
    const s = await serverWith(dataDir, ({ meta }) => {
      const full = async (): Promise<never> => {
        throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
      };
      meta.createUpload = full;
      meta.createUploadWithin = full; // what the create route uses (with the reservation limits)
    });
    expect((await create(s.url, { name: 'x', size: 10, chunkSize: 4 * KiB })).status).toBe(507);
    expect(await readdir(join(dataDir, 'uploads'))).toEqual([]);
  });

  it('a chunk PUT that loses the race with an abort gets 410, not 500 (its part file was deleted under it)', async () => {
    const dataDir = await tempDir();
    let reached!: () => void;
    const atPut = new Promise<void>((r) => (reached = r));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const s = await serverWith(dataDir, ({ blobs }) => {
      // The file store takes chunks through stageChunk (it stages in place); others through putChunk.
      const put = blobs.putChunk.bind(blobs);
      blobs.putChunk = async (...args) => {
        reached();
        await gate;
        return put(...args);
      };
      const stage = blobs.stageChunk.bind(blobs);
      blobs.stageChunk = async (...args) => {
        reached();
        await gate;
        return stage(...args);
      };
    });
    const data = seededBytes(8 * KiB, 2);
    const { uploadId } = (await create(s.url, { name: 'race', size: data.length, chunkSize: 4 * KiB })).body;
    const put = putChunk(s.url, uploadId, 0, chunkOf(data, 4 * KiB, 0));
    await atPut; // the PUT has loaded the upload as 'uploading'
    expect((await call(s.url, 'DELETE', `/uploads/${uploadId}`)).status).toBe(204);
    release();
    const r = await put;
    expect(r.status).toBe(410);
    expect(r.body.type).toBe('urn:ferry:problem:upload-aborted');
  });
});

describe('orphans after a crash (found by the server-crash scenario)', () => {
  it('a restart frees part files with no row (crash during create) and those of closed uploads, with their chunk rows', async () => {
    const dataDir = await tempDir();
    const first = await startTestServer({ dataDir });
    const cs = 4 * KiB;
    const data = seededBytes(3 * cs, 3);
    const make = async () => {
      const { uploadId } = (await create(first.url, { name: 'x', size: data.length, chunkSize: cs })).body;
      expect((await putChunk(first.url, uploadId, 0, chunkOf(data, cs, 0))).status).toBe(201);
      return uploadId as string;
    };
    const [live, expired, aborted, done] = [await make(), await make(), await make(), await make()];
    for (const i of [1, 2]) await putChunk(first.url, done, i, chunkOf(data, cs, i));
    // The moments a SIGKILL can hit: right after a state change, before the clean-up that follows it;
    // and during a create, after the part file exists but before its row.
    await first.ctx.meta.transition(expired, ['uploading'], 'expired');
    await first.ctx.meta.transition(aborted, ['uploading'], 'aborted');
    await first.ctx.blobs.begin('NoRowForThisUploadIdXXXX', 100, 1);
    await first.close();

    const second = await server({ dataDir, orphanGraceSeconds: 0 }) // one node: no one else may be creating uploads;
    expect((await readdir(join(dataDir, 'uploads'))).sort()).toEqual([`${live}.part`]);
    expect(await second.ctx.meta.listChunks(expired)).toEqual([]);
    expect(await second.ctx.meta.listChunks(aborted)).toEqual([]);
    expect(await second.ctx.meta.listChunks(live)).toHaveLength(1);
    expect(await second.ctx.meta.listChunks(done)).toHaveLength(3); // a file's manifest stays
    expect((await status(second.url, live)).body).toMatchObject({ state: 'uploading', missing: '1-2' });
    expect((await status(second.url, expired)).body.state).toBe('expired');
  });
});

describe('a file that failed its declared digest (a gap the server-crash scenario could not reach)', () => {
  it('a crash after the upload was marked failed, before its assembled file was deleted: the restart deletes it', async () => {
    const dataDir = await tempDir();
    const first = await startTestServer({ dataDir });
    const cs = 4 * KiB;
    const data = seededBytes(2 * cs, 5);
    const wrong = sha256Field(Buffer.from('not the file'));
    const { uploadId } = (await create(first.url, { name: 'x', size: data.length, chunkSize: cs, fileDigest: wrong })).body;
    expect((await putChunk(first.url, uploadId, 0, chunkOf(data, cs, 0))).status).toBe(201);
    // The last chunk stored and recorded, then completion's steps up to the moment of the crash:
    // the part file renamed into files/, the upload marked failed, the file not yet deleted.
    const { ctx } = first;
    const upload = (await ctx.meta.getUpload(uploadId))!;
    const last = chunkOf(data, cs, 1);
    const receipt = await ctx.blobs.putChunk(upload.blobHandle, { index: 1, offset: cs, length: cs }, (async function* () {
      yield last;
    })());
    await ctx.meta.recordChunk(uploadId, { index: 1, size: cs, digest: sha256Field(last), receipt }, Date.now() + 60_000);
    const chunks = await ctx.meta.listChunks(uploadId);
    await ctx.blobs.complete(upload.blobHandle, upload.fileId!, chunks.map((c) => c.receipt));
    await ctx.meta.transition(uploadId, ['uploading'], 'failed');
    expect(await readdir(join(dataDir, 'files'))).toEqual([upload.fileId]);
    await first.close();

    const second = await server({ dataDir });
    expect(await readdir(join(dataDir, 'files'))).toEqual([]);
    expect(await readdir(join(dataDir, 'uploads'))).toEqual([]);
    expect(await second.ctx.meta.listChunks(uploadId)).toEqual([]);
    const r = await putChunk(second.url, uploadId, 1, last);
    expect(r.status).toBe(410);
    expect(r.body.type).toBe('urn:ferry:problem:upload-failed');
  });
});

describe('a client gone before its body is read (found by the 1 GiB network scenario)', () => {
  it('releases the chunk: the lock was held for ever, and every later PUT of that chunk got 409 chunk-in-progress', async () => {
    const dataDir = await tempDir();
    let reached!: () => void;
    const atLookup = new Promise<void>((r) => (reached = r));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let holding = true;
    const s = await serverWith(dataDir, ({ meta }) => {
      const getChunk = meta.getChunk.bind(meta);
      meta.getChunk = async (...args) => {
        if (holding) {
          reached();
          await gate;
        }
        return getChunk(...args);
      };
    });
    const data = seededBytes(64 * KiB, 5);
    const { uploadId } = (await create(s.url, { name: 'gone', size: data.length, chunkSize: data.length })).body;
    const sock = net.connect({ port: s.port, host: '127.0.0.1' });
    sock.on('error', () => {});
    sock.write(`PUT /uploads/${uploadId}/chunks/0 HTTP/1.1\r\nhost: x\r\ncontent-digest: ${sha256Field(data)}\r\ncontent-length: ${data.length}\r\n\r\n`);
    sock.write(data.subarray(0, 1000));
    await atLookup; // the server is between reading the headers and reading the body
    sock.destroy();
    await expect.poll(() => new Promise((r) => s.server.getConnections((_e, n) => r(n)))).toBe(0);
    holding = false;
    release();
    await expect.poll(() => s.ctx.metrics.get('ferry_chunks_failed_total', { code: 'client-disconnected' })).toBe(1);
    expect(s.ctx.chunkWrites.size).toBe(0);
    expect((await putChunk(s.url, uploadId, 0, data)).status).toBe(201);
  });
});
