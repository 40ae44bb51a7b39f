// A 500 is logged as one line an operator can match with the client's answer (request id, instance),
// without the stack trace and its absolute paths, which only debug level shows.
import { rm } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Paths } from '../../src/protocol/index.js';
import { startServer, type FerryServer, type ServerConfigInput } from '../../src/server/index.js';
import { createLogger } from '../../src/server/logger.js';
import { openEmbeddedStores } from '../../src/stores/embedded.js';
import { randomData } from '../helpers/digest.js';
import { call, create, putChunk } from '../helpers/http.js';
import { tempDir, testLimits } from '../helpers/server.js';

interface Logged {
  server: FerryServer;
  lines: any[];
  texts: string[];
  /** The next request to the store's listFiles / recordChunk throws an unexpected error. */
  failNext: { listFiles: boolean; recordChunk: boolean };
}

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A real server with the logger it ships with, writing to memory, over stores that can be told to fail once. */
async function logged(level: string, config: ServerConfigInput = {}): Promise<Logged> {
  const dataDir = await tempDir();
  const stores = await openEmbeddedStores({ dataDir, fsync: false });
  const failNext = { listFiles: false, recordChunk: false };
  const boom = () => new Error('the store fell over (test)');
  const listFiles = stores.meta.listFiles.bind(stores.meta);
  stores.meta.listFiles = async (...args) => {
    if (failNext.listFiles) {
      failNext.listFiles = false;
      throw boom();
    }
    return listFiles(...args);
  };
  const recordChunk = stores.meta.recordChunk.bind(stores.meta);
  stores.meta.recordChunk = async (...args) => {
    if (failNext.recordChunk) {
      failNext.recordChunk = false;
      throw boom();
    }
    return recordChunk(...args);
  };
  const texts: string[] = [];
  const lines: any[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString('utf8').split('\n').filter(Boolean)) {
        texts.push(text);
        lines.push(JSON.parse(text));
      }
      done();
    },
  });
  const logger = createLogger(level, stream);
  const server = await startServer({ port: 0, host: '127.0.0.1', ...testLimits, dataDir, fsync: false, logLevel: level as 'info', ...config }, { ...stores, logger });
  cleanups.push(async () => {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  return { server, lines, texts, failNext };
}

const here = process.cwd();

describe('a 500 at info level', () => {
  let s: Logged;
  beforeAll(async () => {
    s = await logged('info');
  });

  it('answers with the request id (header and problem) and the path as instance; the log line has the same id and no stack', async () => {
    s.failNext.listFiles = true;
    const r = await call(s.server.url, 'GET', `${Paths.files}?limit=5`);
    expect(r.status).toBe(500);
    const requestId = r.headers['x-request-id'];
    expect(typeof requestId).toBe('string');
    expect(r.body).toMatchObject({ type: 'urn:ferry:problem:internal-error', instance: Paths.files, requestId });
    expect(r.text).not.toContain('fell over');

    const failed = s.lines.filter((l) => l.requestId === requestId);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ level: 50, event: 'request-failed', code: 'internal-error', method: 'GET', url: Paths.files });
    expect(failed[0].error).toEqual({ type: 'Error', message: 'the store fell over (test)' });
    const text = s.texts[s.lines.indexOf(failed[0])]!;
    expect(text).not.toContain('stack');
    expect(text).not.toContain(here);
    expect(text).not.toContain('    at ');
  });

  it('a chunk that fails inside the server: the chunk log line has the request id and no stack either', async () => {
    const data = randomData(2048);
    const { uploadId } = (await create(s.server.url, { name: 'c.bin', size: data.length })).body;
    s.failNext.recordChunk = true;
    const r = await putChunk(s.server.url, uploadId, 0, data);
    expect(r.status).toBe(500);
    const requestId = r.headers['x-request-id'];
    expect(r.body.requestId).toBe(requestId);
    const chunkLine = s.lines.find((l) => l.event === 'chunk' && l.requestId === requestId);
    expect(chunkLine).toMatchObject({ outcome: 'internal-error', error: { message: 'the store fell over (test)' } });
    const related = s.texts.filter((t) => t.includes(String(requestId)));
    expect(related.length).toBeGreaterThanOrEqual(2); // the chunk line and the request line
    for (const t of related) {
      expect(t).not.toContain('stack');
      expect(t).not.toContain(here);
    }
    expect((await putChunk(s.server.url, uploadId, 0, data)).status).toBe(201);
  });

  it('every answer has its own request id, problems carry it too, and a client cannot choose it', async () => {
    const ok = await call(s.server.url, 'GET', Paths.capabilities, { headers: { 'x-request-id': 'chosen-by-client' } });
    const again = await call(s.server.url, 'GET', Paths.capabilities);
    expect(ok.headers['x-request-id']).not.toBe('chosen-by-client');
    expect(ok.headers['x-request-id']).not.toBe(again.headers['x-request-id']);
    const missing = await call(s.server.url, 'GET', Paths.upload('A'.repeat(24)));
    expect(missing.status).toBe(404);
    expect(missing.body.requestId).toBe(missing.headers['x-request-id']);
  });

  it('the debug line with the stack is not written', () => {
    expect(s.lines.some((l) => l.level === 20)).toBe(false);
    expect(s.texts.some((t) => t.includes('    at '))).toBe(false);
  });
});

describe('at debug level', () => {
  it('the stack is logged too, on a debug line with the same request id', async () => {
    const s = await logged('debug');
    s.failNext.listFiles = true;
    const r = await call(s.server.url, 'GET', Paths.files);
    expect(r.status).toBe(500);
    const lines = s.lines.filter((l) => l.requestId === r.headers['x-request-id']);
    expect(lines.find((l) => l.level === 50)).toMatchObject({ error: { message: 'the store fell over (test)' } });
    expect(JSON.stringify(lines.find((l) => l.level === 50))).not.toContain('    at ');
    const debug = lines.find((l) => l.level === 20);
    expect(debug.err.stack).toContain('the store fell over (test)');
    expect(debug.err.stack).toContain('    at ');
  });
});

describe('with --trust-proxy', () => {
  it("keeps a proxy's request id when it is a sane one, and makes its own otherwise", async () => {
    const s = await logged('info', { trustProxy: true });
    const kept = await call(s.server.url, 'GET', Paths.capabilities, { headers: { 'x-request-id': 'edge-4f2a:17' } });
    expect(kept.headers['x-request-id']).toBe('edge-4f2a:17');
    s.failNext.listFiles = true;
    const failed = await call(s.server.url, 'GET', Paths.files, { headers: { 'x-request-id': 'edge-500' } });
    expect(failed.body.requestId).toBe('edge-500');
    expect(s.lines.find((l) => l.event === 'request-failed')?.requestId).toBe('edge-500');
    for (const insane of ['has space', 'x'.repeat(129), 'a"b', 'ünïcode']) {
      const r = await call(s.server.url, 'GET', Paths.capabilities, { headers: { 'x-request-id': insane } });
      expect(r.headers['x-request-id']).not.toBe(insane);
      expect(r.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    }
  });
});

describe("the server's logger", () => {
  it('drops the stack of any logged error (a failing hook, a webhook delivery) unless debug is on', () => {
    const logAt = (level: string) => {
      const texts: string[] = [];
      const stream = new Writable({
        write(chunk: Buffer, _encoding, done) {
          texts.push(chunk.toString('utf8'));
          done();
        },
      });
      const logger = createLogger(level, stream);
      logger.error({ err: Object.assign(new Error('hook down'), { code: 'ECONNREFUSED' }) }, 'pre-create hook failed');
      return JSON.parse(texts.join(''));
    };
    const info = logAt('info');
    expect(info.err).toEqual({ type: 'Error', message: 'hook down', code: 'ECONNREFUSED' });
    const debug = logAt('debug');
    expect(debug.err).toMatchObject({ type: 'Error', message: 'hook down', code: 'ECONNREFUSED' });
    expect(debug.err.stack).toContain('    at ');
  });
});
