// Metadata is a small flat map of strings: anything else is refused before it is stored, and no stored
// record (one from an older server included) can make a listing, a status or a manifest fail.
import Database from 'better-sqlite3';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DefaultLimits, MediaTypes, Paths } from '../../src/protocol/index.js';
import { startServer, type PreCreateHook } from '../../src/server/index.js';
import { randomData } from '../helpers/digest.js';
import { call, create, createWithFirstChunk, putChunk, status, type Reply } from '../helpers/http.js';
import { startTestServer, tempDir, testLimits, type TestServer } from '../helpers/server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.dispose());

const postJson = (body: string) => call(server.url, 'POST', Paths.uploads, { headers: { 'content-type': MediaTypes.json }, body });
/** A create body whose metadata is `metadata`, spelled as raw JSON (deep nesting cannot go through JSON.stringify). */
const createBody = (metadata: string) => `{"name":"m.bin","size":1,"metadata":${metadata}}`;

function expectInvalidMetadata(r: Reply, detail?: RegExp) {
  expect(r.status).toBe(400);
  expect(r.headers['content-type']).toBe('application/problem+json');
  expect(r.body.type).toBe('urn:ferry:problem:invalid-metadata');
  if (detail) expect(r.body.detail).toMatch(detail);
}

/** Every upload and file the server holds, by the store (not through the API under test). */
async function stored(): Promise<{ uploads: number; files: number }> {
  const db = new Database(join(server.dataDir, 'meta.sqlite'), { readonly: true });
  try {
    const count = (table: string) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    return { uploads: count('uploads'), files: count('files') };
  } finally {
    db.close();
  }
}

describe('a create with metadata that is not a flat map of strings', () => {
  it('nested 4,000 and 30,000 levels deep is 400, not 201 or 500, and nothing is stored', async () => {
    const before = await stored();
    for (const depth of [4_000, 30_000]) {
      expectInvalidMetadata(await postJson(createBody(`{"a":${'['.repeat(depth)}${']'.repeat(depth)}}`)), /"a" is an array/);
      expectInvalidMetadata(await postJson(createBody(`${'{"a":'.repeat(depth / 10)}"x"${'}'.repeat(depth / 10)}`)), /"a" is an object/);
    }
    expect(await stored()).toEqual(before);
    expect((await call(server.url, 'GET', Paths.files)).status).toBe(200);
  });

  it('the same through the parameters header of a create with its first chunk, which stores no chunk either', async () => {
    const before = await stored();
    const chunk = randomData(100);
    const params = { name: 'first.bin', size: chunk.length, metadata: { tags: ['a', 'b'] } as unknown as Record<string, string> };
    expectInvalidMetadata(await createWithFirstChunk(server.url, params, chunk), /"tags" is an array/);
    expect(await stored()).toEqual(before);
  });

  const refused: Array<[string, string, RegExp]> = [
    ['a number value', '{"pages":12}', /"pages" is a number/],
    ['a boolean value', '{"ok":true}', /"ok" is a boolean/],
    ['a null value', '{"x":null}', /"x" is null/],
    ['an array', '["a","b"]', /must be an object/],
    ['a string', '"just text"', /must be an object/],
    ['null', 'null', /must be an object/],
    [`${DefaultLimits.maxMetadataEntries + 1} entries`, JSON.stringify(Object.fromEntries(Array.from({ length: DefaultLimits.maxMetadataEntries + 1 }, (_, i) => [`k${i}`, 'v']))), /33 entries/],
    ['an empty key', '{"":"v"}', /key ""/],
    ['a key of 65 characters', JSON.stringify({ ['k'.repeat(DefaultLimits.maxMetadataKeyLength + 1)]: 'v' }), /key "k{65}"/],
    ['a key with a space', '{"my key":"v"}', /key "my key"/],
    ['the key __proto__', '{"__proto__":"v"}', /key "__proto__"/],
    ['a value of 1,025 characters', JSON.stringify({ note: 'x'.repeat(DefaultLimits.maxMetadataValueLength + 1) }), /longer than 1024 characters/],
    ['more than 16 KiB in all', JSON.stringify(Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, 'é'.repeat(1000)]))), /bytes as JSON; at most 16384/],
  ];
  for (const [what, metadata, detail] of refused) {
    it(`refuses ${what}`, async () => expectInvalidMetadata(await postJson(createBody(metadata)), detail));
  }
});

describe('metadata within the limits', () => {
  it('is stored and shown as sent, in the status, the listing, the manifest and its events', async () => {
    const metadata = {
      type: 'application/pdf',
      project: 'Zürich — Q3',
      'x-team.id': 'a:b_c-d',
      ...Object.fromEntries(Array.from({ length: DefaultLimits.maxMetadataEntries - 3 }, (_, i) => [`k${i}`, 'v'.repeat(200)])),
      empty: '',
    };
    delete (metadata as Record<string, string>).k0; // 32 entries in all
    expect(Object.keys(metadata)).toHaveLength(DefaultLimits.maxMetadataEntries);
    const created = await create(server.url, { name: 'ok.pdf', size: 3, metadata });
    expect(created.status).toBe(201);
    expect(created.body.metadata).toEqual(metadata);
    const ack = await putChunk(server.url, created.body.uploadId, 0, Buffer.from('abc'));
    expect(ack.status).toBe(201);
    expect((await status(server.url, created.body.uploadId)).body.metadata).toEqual(metadata);
    const listed = (await call(server.url, 'GET', Paths.files)).body.files.find((f: { fileId: string }) => f.fileId === ack.body.fileId);
    expect(listed.metadata).toEqual(metadata);
    expect((await call(server.url, 'GET', Paths.manifest(ack.body.fileId))).body.metadata).toEqual(metadata);
  });
});

describe('a stored record from before metadata was limited', () => {
  it('never breaks the listing, the status or the manifest: string values are shown, others converted or left out', async () => {
    const created = await create(server.url, { name: 'old.bin', size: 3 });
    const ack = await putChunk(server.url, created.body.uploadId, 0, Buffer.from('old'));
    expect(ack.body.complete).toBe(true);
    // What an older server stored for '{"team":"x","pages":12,"ok":true,"none":null,"deep":[[[…]]]}':
    // deep enough that serialising it again overflows the stack.
    const depth = 50_000;
    const old = `{"team":"x","pages":12,"ok":true,"none":null,"deep":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    const db = new Database(join(server.dataDir, 'meta.sqlite'));
    try {
      db.prepare('UPDATE uploads SET metadata = ? WHERE id = ?').run(old, created.body.uploadId);
      db.prepare('UPDATE files SET metadata = ? WHERE id = ?').run(old, ack.body.fileId);
    } finally {
      db.close();
    }
    const shown = { team: 'x', pages: '12', ok: 'true' };
    const list = await call(server.url, 'GET', Paths.files);
    expect(list.status).toBe(200);
    expect(list.body.files.find((f: { fileId: string }) => f.fileId === ack.body.fileId).metadata).toEqual(shown);
    const st = await status(server.url, created.body.uploadId);
    expect(st.status).toBe(200);
    expect(st.body.metadata).toEqual(shown);
    const manifest = await call(server.url, 'GET', Paths.manifest(ack.body.fileId));
    expect(manifest.status).toBe(200);
  });
});

describe('metadata from the pre-create hook', () => {
  let hooked: TestServer;
  let answer: unknown;
  beforeAll(async () => {
    const preCreate: PreCreateHook = () => ({ allow: true, metadata: answer as Record<string, string> });
    const dataDir = await tempDir();
    const s = await startServer({ port: 0, host: '127.0.0.1', logLevel: 'silent', dataDir, ...testLimits }, { preCreate });
    hooked = { ...s, dataDir, dispose: () => s.close().then(() => rm(dataDir, { recursive: true, force: true })) };
  });
  afterAll(() => hooked.dispose());

  it('is checked like a client’s: a flat map of strings is stored, anything else is a hook failure (503) and creates nothing', async () => {
    answer = { checkedBy: 'hook' };
    const ok = await create(hooked.url, { name: 'a', size: 1, metadata: { mine: 'x' } });
    expect(ok.status).toBe(201);
    expect(ok.body.metadata).toEqual({ checkedBy: 'hook' });
    const created = hooked.ctx.metrics.get('ferry_uploads_created_total');
    for (const bad of [{ nested: { a: 'b' } }, { n: 1 }, { ['k'.repeat(65)]: 'v' }]) {
      answer = bad;
      const r = await create(hooked.url, { name: 'b', size: 1 });
      expect(r.status).toBe(503);
      expect(r.body.type).toBe('urn:ferry:problem:service-unavailable');
      expect(r.headers['retry-after']).toBe('5');
    }
    expect(hooked.ctx.metrics.get('ferry_uploads_created_total')).toBe(created);
  });
});
