// Who may do what in token mode: each rule of access control, with the request that proves it holds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueGrant, type GrantScope } from '../../src/grants/index.js';
import { MediaTypes, Paths } from '../../src/protocol/index.js';
import { createApiKey } from '../../src/server/auth/api-keys.js';
import { parseServerConfig } from '../../src/server/index.js';
import { sha256Field } from '../helpers/digest.js';
import { call, type Reply } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const secret = 's'.repeat(40);
const oldSecret = 'o'.repeat(40);

let server: TestServer;
let alice: string;
let bob: string;
let admin: string;

beforeAll(async () => {
  server = await startTestServer({ auth: 'token', grantSecrets: [{ kid: 'k2', secret }, { kid: 'k1', secret: oldSecret }] });
  const now = Date.now();
  alice = (await createApiKey(server.ctx.meta, 'alice', 'user', 'alice laptop', now)).key;
  bob = (await createApiKey(server.ctx.meta, 'bob', 'user', '', now)).key;
  admin = (await createApiKey(server.ctx.meta, 'root', 'admin', '', now)).key;
});
afterAll(() => server.dispose());

const auth = (token: string) => ({ authorization: `Bearer ${token}` });

function as(token: string | null, method: string, path: string, body?: unknown, headers: Record<string, string | number> = {}): Promise<Reply> {
  const h: Record<string, string | number> = { ...headers, ...(token ? auth(token) : {}) };
  if (body !== undefined) h['content-type'] = MediaTypes.json;
  return call(server.url, method, path, { headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
}

const grant = (identity: string, scope: GrantScope, expiresIn: number | string = '10m', kid = 'k2', key = secret) =>
  issueGrant({ kid, secret: key, identity, expiresIn, scope });

/** Uploads `data` as one chunk with `token`; returns the file id. */
async function uploadAs(token: string, name: string, data = Buffer.from(`bytes of ${name}`), metadata: Record<string, unknown> = {}): Promise<string> {
  const created = await as(token, 'POST', Paths.uploads, { name, size: data.length, metadata });
  expect(created.status, created.text).toBe(201);
  const put = await call(server.url, 'PUT', Paths.chunk(created.body.uploadId, 0), {
    headers: { ...auth(token), 'content-digest': sha256Field(data), 'content-length': data.length },
    body: data,
  });
  expect(put.status, put.text).toBe(201);
  return put.body.fileId as string;
}

function expectProblem(r: Reply, status: number, type: string): void {
  expect(r.status, r.text).toBe(status);
  expect(r.headers['content-type']).toBe(MediaTypes.problem);
  expect(r.body.type).toBe(`urn:ferry:problem:${type}`);
}

describe('modes and addresses', () => {
  it('listens on loopback in open mode by default; any other address means token mode', () => {
    expect(parseServerConfig({})).toMatchObject({ host: '127.0.0.1', auth: 'open' });
    expect(parseServerConfig({ host: '0.0.0.0' }).auth).toBe('token');
    expect(parseServerConfig({ host: '::1' }).auth).toBe('open');
  });

  it('refuses open mode on a public address unless told it is meant', () => {
    expect(() => parseServerConfig({ host: '0.0.0.0', auth: 'open' })).toThrow(/i-know-this-is-public/);
    expect(parseServerConfig({ host: '0.0.0.0', auth: 'open', allowPublicOpen: true }).auth).toBe('open');
  });

  it('answers health checks and the page without a credential, and nothing else', async () => {
    expect((await as(null, 'GET', '/healthz')).status).toBe(200);
    expect((await as(null, 'GET', '/readyz')).status).toBe(200);
    for (const [method, path] of [
      ['GET', '/capabilities'],
      ['GET', '/files'],
      ['GET', '/metrics'],
      ['GET', '/whoami'],
      ['GET', '/keys'],
      ['GET', Paths.file('A'.repeat(24))],
      ['GET', Paths.upload('A'.repeat(24))],
    ] as const) {
      const r = await as(null, method, path);
      expectProblem(r, 401, 'unauthenticated');
      expect(r.headers['www-authenticate']).toBe('Bearer realm="ferry"');
    }
    const created = await as(null, 'POST', Paths.uploads, { name: 'a', size: 1 });
    expectProblem(created, 401, 'unauthenticated');
    expect(await server.ctx.meta.listDue('uploading', Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
  });

  it('says which mode it is in', async () => {
    expect((await as(alice, 'GET', '/capabilities')).body.auth).toBe('token');
    expect((await as(alice, 'GET', '/whoami')).body).toMatchObject({ identity: 'alice', role: 'user', via: 'key', auth: 'token' });
  });
});

describe('API keys', () => {
  it('refuses an unknown key, a malformed header and a key with a wrong secret', async () => {
    const bogus = 'fk_0123456789abcdef_' + 'A'.repeat(43);
    for (const r of [
      await as(bogus, 'GET', '/whoami'),
      await as(alice.slice(0, -1) + (alice.endsWith('A') ? 'B' : 'A'), 'GET', '/whoami'),
      await call(server.url, 'GET', '/whoami', { headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } }),
    ]) {
      expectProblem(r, 401, 'invalid-credential');
      expect(String(r.headers['www-authenticate'])).toContain('error="invalid_token"');
    }
  });

  it('stores no key in plain text', async () => {
    const keys = await server.ctx.meta.listApiKeys();
    for (const key of [alice, bob, admin]) {
      const secretPart = key.slice('fk_'.length + 16 + 1);
      expect(secretPart).toHaveLength(43);
      expect(JSON.stringify(keys)).not.toContain(secretPart);
    }
  });

  it('refuses a revoked key from the next request on', async () => {
    const made = await createApiKey(server.ctx.meta, 'carol', 'user', '', Date.now());
    expect((await as(made.key, 'GET', '/whoami')).status).toBe(200);
    expect((await as(admin, 'DELETE', `/keys/${made.record.id}`)).status).toBe(204);
    expectProblem(await as(made.key, 'GET', '/whoami'), 401, 'invalid-credential');
  });

  it('lets admins create, list and revoke keys over HTTP, and nobody else', async () => {
    const made = await as(admin, 'POST', '/keys', { identity: 'dave', label: 'build bot' });
    expect(made.status, made.text).toBe(201);
    expect(made.body).toMatchObject({ identity: 'dave', role: 'user', label: 'build bot', revokedAt: null });
    expect((await as(made.body.key, 'GET', '/whoami')).body.identity).toBe('dave');
    const listed = await as(admin, 'GET', '/keys');
    expect(listed.body.keys.map((k: { id: string }) => k.id)).toContain(made.body.id);
    expect(listed.text).not.toContain(made.body.key);
    expectProblem(await as(alice, 'GET', '/keys'), 403, 'forbidden');
    expectProblem(await as(alice, 'POST', '/keys', { identity: 'alice', role: 'admin' }), 403, 'forbidden');
    expectProblem(await as(alice, 'DELETE', `/keys/${made.body.id}`), 403, 'forbidden');
    expectProblem(await as(admin, 'DELETE', '/keys/ffffffffffffffff'), 404, 'key-not-found');
    expectProblem(await as(admin, 'POST', '/keys', { identity: '' }), 400, 'malformed-request');
  });

  it('keeps metrics for admins, counting refusals by kind', async () => {
    const metrics = await as(admin, 'GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(/^ferry_requests_refused_total\{code="unauthenticated"\} [1-9]/m);
    expectProblem(await as(alice, 'GET', '/metrics'), 403, 'forbidden');
  });

  it('never takes an API key from the query string', async () => {
    expectProblem(await as(null, 'GET', `/whoami?grant=${alice}`), 401, 'invalid-credential');
  });
});

describe('ownership', () => {
  let aliceFile: string;
  let aliceUpload: string;
  const chunk = Buffer.alloc(1024, 7);

  beforeAll(async () => {
    aliceFile = await uploadAs(alice, 'alice.txt');
    const created = await as(alice, 'POST', Paths.uploads, { name: 'partial.bin', size: 3 * 1024, chunkSize: 1024 });
    aliceUpload = created.body.uploadId;
    expect(created.body.state).toBe('uploading');
  });

  it("hides another identity's upload: status, chunks and abort are all 404, and nothing changes", async () => {
    expectProblem(await as(bob, 'GET', Paths.upload(aliceUpload)), 404, 'upload-not-found');
    expect((await as(bob, 'HEAD', Paths.upload(aliceUpload))).status).toBe(404);
    const put = await call(server.url, 'PUT', Paths.chunk(aliceUpload, 0), {
      headers: { ...auth(bob), 'content-digest': sha256Field(chunk), 'content-length': chunk.length },
      body: chunk,
    });
    expectProblem(put, 404, 'upload-not-found');
    expectProblem(await as(bob, 'DELETE', Paths.upload(aliceUpload)), 404, 'upload-not-found');
    const status = await as(alice, 'GET', Paths.upload(aliceUpload));
    expect(status.body).toMatchObject({ state: 'uploading', chunksReceived: 0, missing: '0-2' });
  });

  it("hides another identity's file: bytes, manifest, delete and share are 404, and it is not listed", async () => {
    expectProblem(await as(bob, 'GET', Paths.file(aliceFile)), 404, 'file-not-found');
    expect((await as(bob, 'HEAD', Paths.file(aliceFile))).status).toBe(404);
    expectProblem(await as(bob, 'GET', Paths.manifest(aliceFile)), 404, 'file-not-found');
    expectProblem(await as(bob, 'DELETE', Paths.file(aliceFile)), 404, 'file-not-found');
    expectProblem(await as(bob, 'POST', `${Paths.file(aliceFile)}/share`), 404, 'file-not-found');
    expectProblem(await as(await grant('bob', { files: 'write' }), 'POST', `${Paths.file(aliceFile)}/share`), 404, 'file-not-found');
    const listed = await as(bob, 'GET', '/files');
    expect(listed.body.files.map((f: { fileId: string }) => f.fileId)).not.toContain(aliceFile);
    expectProblem(await as(bob, 'GET', '/files?owner=alice'), 403, 'forbidden');
    expect((await as(alice, 'GET', Paths.file(aliceFile))).text).toBe('bytes of alice.txt');
  });

  it('lists only the caller’s files, owned by the caller', async () => {
    await uploadAs(bob, 'bob.txt');
    const listed = await as(alice, 'GET', '/files');
    expect(listed.body.files.length).toBeGreaterThan(0);
    expect(listed.body.files.every((f: { owner: string }) => f.owner === 'alice')).toBe(true);
  });

  it('lets an admin see, read and filter everyone’s files', async () => {
    const all = await as(admin, 'GET', '/files?limit=1000');
    const owners = new Set(all.body.files.map((f: { owner: string }) => f.owner));
    expect(owners).toContain('alice');
    expect(owners).toContain('bob');
    const onlyBob = await as(admin, 'GET', '/files?owner=bob');
    expect(onlyBob.body.files.length).toBeGreaterThan(0);
    expect(onlyBob.body.files.every((f: { owner: string }) => f.owner === 'bob')).toBe(true);
    expect((await as(admin, 'GET', Paths.file(aliceFile))).status).toBe(200);
    expect((await as(admin, 'GET', Paths.upload(aliceUpload))).status).toBe(200);
  });

  it('pages through files with a cursor', async () => {
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await uploadAs(bob, `page-${i}.txt`));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Reply = await as(bob, 'GET', `/files?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.body.files.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.files.map((f: { fileId: string }) => f.fileId));
      cursor = page.body.nextCursor;
    } while (cursor);
    for (const id of ids) expect(seen).toContain(id);
    expect(new Set(seen).size).toBe(seen.length);
    expectProblem(await as(bob, 'GET', '/files?cursor=nonsense'), 400, 'malformed-request');
    expectProblem(await as(bob, 'GET', '/files?limit=0'), 400, 'malformed-request');
  });

  it('lets the owner delete a file: bytes and record gone, then 404', async () => {
    const id = await uploadAs(alice, 'doomed.txt');
    expect((await as(alice, 'DELETE', Paths.file(id))).status).toBe(204);
    expectProblem(await as(alice, 'GET', Paths.file(id)), 404, 'file-not-found');
    expectProblem(await as(alice, 'DELETE', Paths.file(id)), 404, 'file-not-found');
    expect(await server.ctx.meta.getFile(id)).toBeUndefined();
  });
});

describe('signed grants', () => {
  it('lets a grant upload as its identity, within its byte budget across several uploads', async () => {
    const g = await grant('erin', { upload: { maxBytes: 100 } });
    const first = await as(g, 'POST', Paths.uploads, { name: 'a.bin', size: 60 });
    expect(first.status, first.text).toBe(201);
    const second = await as(g, 'POST', Paths.uploads, { name: 'b.bin', size: 50 });
    expectProblem(second, 403, 'grant-budget-exceeded');
    expect(second.body).toMatchObject({ maxBytes: 100, usedBytes: 60, usedFiles: 1 });
    expect((await as(g, 'POST', Paths.uploads, { name: 'c.bin', size: 40 })).status).toBe(201);
    expectProblem(await as(g, 'POST', Paths.uploads, { name: 'd.bin', size: 1 }), 403, 'grant-budget-exceeded');
    // Aborting an upload gives its bytes back.
    expect((await as(g, 'DELETE', Paths.upload(first.body.uploadId))).status).toBe(204);
    expect((await as(g, 'POST', Paths.uploads, { name: 'e.bin', size: 60 })).status).toBe(201);
    const upload = await server.ctx.meta.getUpload(first.body.uploadId);
    expect(upload?.owner).toBe('erin');
  });

  it('limits the number of files, and the names and types', async () => {
    const g = await grant('erin', { upload: { maxBytes: 1000, maxFiles: 1, names: ['*.pdf'], types: ['application/pdf'] } });
    expectProblem(await as(g, 'POST', Paths.uploads, { name: 'x.exe', size: 1, metadata: { type: 'application/pdf' } }), 403, 'forbidden');
    expectProblem(await as(g, 'POST', Paths.uploads, { name: 'x.pdf', size: 1, metadata: { type: 'text/html' } }), 403, 'forbidden');
    expectProblem(await as(g, 'POST', Paths.uploads, { name: 'x.pdf', size: 1 }), 403, 'forbidden');
    expect((await as(g, 'POST', Paths.uploads, { name: 'Report.PDF', size: 1, metadata: { type: 'application/pdf' } })).status).toBe(201);
    expectProblem(await as(g, 'POST', Paths.uploads, { name: 'y.pdf', size: 1, metadata: { type: 'application/pdf' } }), 403, 'grant-budget-exceeded');
  });

  it('refuses what the scope does not name', async () => {
    const readOnly = await grant('alice', { files: 'read' });
    expectProblem(await as(readOnly, 'POST', Paths.uploads, { name: 'a', size: 1 }), 403, 'forbidden');
    const uploadOnly = await grant('alice', { upload: { maxBytes: 10 } });
    expectProblem(await as(uploadOnly, 'GET', '/files'), 403, 'forbidden');
    const id = await uploadAs(alice, 'kept.txt');
    expectProblem(await as(uploadOnly, 'GET', Paths.file(id)), 404, 'file-not-found');
    expectProblem(await as(uploadOnly, 'POST', `${Paths.file(id)}/share`), 404, 'file-not-found');
    expect((await as(readOnly, 'GET', Paths.file(id))).status).toBe(200);
    expectProblem(await as(readOnly, 'DELETE', Paths.file(id)), 403, 'forbidden');
    expectProblem(await as(readOnly, 'POST', `${Paths.file(id)}/share`, { expiresInSeconds: 3600 }), 403, 'forbidden');
    // A reader may make a short download link (what a page's Download button needs), no more.
    const short = await as(readOnly, 'POST', `${Paths.file(id)}/share`);
    expect(short.status, short.text).toBe(201);
    expect(Date.parse(short.body.expiresAt) - Date.now()).toBeLessThanOrEqual(300_000);
    const writer = await grant('alice', { files: 'write' });
    expect((await as(writer, 'POST', `${Paths.file(id)}/share`)).status).toBe(201);
    expect((await as(writer, 'DELETE', Paths.file(id))).status).toBe(204);
  });

  it('reads file X with a grant for X, and not file Y', async () => {
    const x = await uploadAs(alice, 'x.txt');
    const y = await uploadAs(alice, 'y.txt');
    const g = await grant('someone-else', { read: [x] });
    expect((await as(g, 'GET', Paths.file(x))).text).toBe('bytes of x.txt');
    expect((await as(g, 'GET', Paths.manifest(x))).status).toBe(200);
    expect((await call(server.url, 'GET', `${Paths.file(x)}?grant=${g}`)).status).toBe(200);
    expectProblem(await as(g, 'GET', Paths.file(y)), 404, 'file-not-found');
    expectProblem(await as(g, 'GET', Paths.manifest(y)), 404, 'file-not-found');
    expectProblem(await as(g, 'GET', '/files'), 403, 'forbidden');
  });

  it('refuses an expired grant with credential-expired', async () => {
    const g = await grant('alice', { files: 'read' }, 60);
    expect((await as(g, 'GET', '/whoami')).status).toBe(200);
    const realNow = server.ctx.now;
    server.ctx.now = () => realNow() + 61_000;
    try {
      const r = await as(g, 'GET', '/whoami');
      expectProblem(r, 401, 'credential-expired');
      expect(String(r.headers['www-authenticate'])).toContain('error="invalid_token"');
    } finally {
      server.ctx.now = realNow;
    }
  });

  it('refuses a tampered grant, one with another secret, and one with an unknown key id', async () => {
    const g = await grant('alice', { files: 'read' });
    const [h, p, sig] = g.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
    const forged = [h, Buffer.from(JSON.stringify({ ...claims, sub: 'root' })).toString('base64url'), sig].join('.');
    expectProblem(await as(forged, 'GET', '/whoami'), 401, 'invalid-credential');
    expectProblem(await as(await grant('alice', { files: 'read' }, '10m', 'k2', 'x'.repeat(40)), 'GET', '/whoami'), 401, 'invalid-credential');
    expectProblem(await as(await grant('alice', { files: 'read' }, '10m', 'k9', secret), 'GET', '/whoami'), 401, 'invalid-credential');
    const none = [Buffer.from(JSON.stringify({ alg: 'none', kid: 'k2' })).toString('base64url'), p, ''].join('.');
    expectProblem(await as(none, 'GET', '/whoami'), 401, 'invalid-credential');
    expectProblem(await as(`${none}x`, 'GET', '/whoami'), 401, 'invalid-credential');
  });

  it('accepts every configured key id at once (rotation)', async () => {
    expect((await as(await grant('alice', { files: 'read' }, '10m', 'k1', oldSecret), 'GET', '/whoami')).body.identity).toBe('alice');
    expect((await as(await grant('alice', { files: 'read' }, '10m', 'k2', secret), 'GET', '/whoami')).body.identity).toBe('alice');
  });

  it('gives a grant holder the grant’s own uploads, not other uploads of the identity', async () => {
    const g = await grant('alice', { upload: { maxBytes: 10_000 } });
    const mine = await as(g, 'POST', Paths.uploads, { name: 'g.bin', size: 10 });
    expect((await as(g, 'GET', Paths.upload(mine.body.uploadId))).status).toBe(200);
    const readOnly = await grant('alice', { files: 'read' });
    expectProblem(await as(readOnly, 'GET', Paths.upload(mine.body.uploadId)), 404, 'upload-not-found');
  });
});

describe('share links', () => {
  it('downloads one file without any other credential, until the link expires', async () => {
    const id = await uploadAs(alice, 'shared.txt');
    const made = await as(alice, 'POST', `${Paths.file(id)}/share`, { expiresInSeconds: 120 });
    expect(made.status, made.text).toBe(201);
    const link = new URL(made.body.url);
    expect(link.pathname).toBe(Paths.file(id));
    expect(Date.parse(made.body.expiresAt)).toBeGreaterThan(Date.now());
    const got = await call(server.url, 'GET', link.pathname + link.search);
    expect(got.text).toBe('bytes of shared.txt');
    expect((await call(server.url, 'GET', `${Paths.manifest(id)}${link.search}`)).status).toBe(200);
    // The link reads that file only.
    const other = await uploadAs(alice, 'other.txt');
    expectProblem(await call(server.url, 'GET', Paths.file(other) + link.search), 404, 'file-not-found');
    expectProblem(await call(server.url, 'DELETE', Paths.file(id) + link.search), 403, 'forbidden');
    // A link cannot make longer links of itself, nor outlive itself through the links it makes.
    const renewed = await call(server.url, 'POST', `${Paths.file(id)}/share${link.search}`);
    expect(renewed.status, renewed.text).toBe(201);
    expect(Date.parse(renewed.body.expiresAt)).toBeLessThanOrEqual(Date.parse(made.body.expiresAt) + 1000);
    expectProblem(await call(server.url, 'POST', `${Paths.file(id)}/share${link.search}`, { headers: { 'content-type': 'application/json' }, body: '{"expiresInSeconds":3600}' }), 403, 'forbidden');
    const realNow = server.ctx.now;
    server.ctx.now = () => realNow() + 121_000;
    try {
      expectProblem(await call(server.url, 'GET', link.pathname + link.search), 401, 'credential-expired');
    } finally {
      server.ctx.now = realNow;
    }
  });

  it('refuses a lifetime over the server maximum', async () => {
    const id = await uploadAs(alice, 'long.txt');
    expectProblem(await as(alice, 'POST', `${Paths.file(id)}/share`, { expiresInSeconds: 10 * 365 * 86400 }), 400, 'malformed-request');
  });
});

describe('CORS', () => {
  let cors: TestServer;
  beforeAll(async () => {
    cors = await startTestServer({ auth: 'token', corsOrigins: ['https://app.example'] });
  });
  afterAll(() => cors.dispose());

  it('answers the preflight of a listed origin, and not of others', async () => {
    const pre = await call(cors.url, 'OPTIONS', Paths.uploads, {
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(String(pre.headers['access-control-allow-headers'])).toContain('authorization');
    expect(String(pre.headers['access-control-allow-headers'])).toContain('ferry-chunk-offset');
    const other = await call(cors.url, 'OPTIONS', Paths.uploads, { headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    const denied = await call(cors.url, 'GET', '/files', { headers: { origin: 'https://app.example' } });
    expect(denied.status).toBe(401);
    expect(denied.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(String(denied.headers['access-control-expose-headers'])).toContain('www-authenticate');
  });
});
