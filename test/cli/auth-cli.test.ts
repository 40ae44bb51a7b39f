// The CLI against a server in token mode: --token/FERRY_TOKEN, one clear line on 401/403 (no retry
// loop), `ferry keys` (data directory and server), `ferry grant`, `ferry share` and share links.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { issueGrant, verifyGrant } from '../../src/grants/index.js';
import { createApiKey } from '../../src/server/auth/api-keys.js';
import { runCli } from '../helpers/cli.js';
import { MiB, startTestServer, tempDir, type TestServer } from '../helpers/server.js';

const grantKey = { kid: 'k1', secret: 'k1-secret-'.padEnd(40, 'x') };

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** A token-mode server on loopback, with one user key (alice) and one admin key (root). */
async function tokenServer() {
  const s: TestServer = await startTestServer({ auth: 'token', grantSecrets: [grantKey], defaultChunkSize: 1 * MiB });
  cleanups.push(() => s.dispose());
  const alice = (await createApiKey(s.ctx.meta, 'alice', 'user', 'test', Date.now())).key;
  const root = (await createApiKey(s.ctx.meta, 'root', 'admin', 'test', Date.now())).key;
  return { s, alice, root };
}

/** A file of random bytes, its SHA-256, and an environment that keeps the CLI's state (and any FERRY_TOKEN) to itself. */
async function sourceFile(size: number) {
  const dir = await tempDir('ferry-auth-cli-');
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const bytes = randomBytes(size);
  const path = join(dir, 'source.bin');
  await writeFile(path, bytes);
  const env: NodeJS.ProcessEnv = { FERRY_STATE_DIR: join(dir, 'state'), FERRY_TOKEN: undefined, FERRY_SERVER: undefined, FERRY_GRANT_SECRETS: undefined, FERRY_DATA_DIR: undefined };
  return { dir, path, sha: sha256(bytes), env };
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Uploads `path` as `key`'s identity through the CLI; the file URL. */
async function uploadAs(s: TestServer, key: string, path: string, env: NodeJS.ProcessEnv): Promise<string> {
  const r = await runCli(['upload', path, '--server', s.url, '--token', key], env);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

const fileIdOf = (url: string) => new URL(url).pathname.split('/').pop()!;

async function whoami(s: TestServer, token: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${s.url}/whoami`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() };
}

/** The lines a person reads (progress lines left out, e.g. "source.bin: 0.0% 0 B/64 KiB ..."). */
const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '' && !/: \d+\.\d% /.test(l));

describe('--token and FERRY_TOKEN', () => {
  it('upload with --token succeeds and the file belongs to the key identity; download and status with FERRY_TOKEN', async () => {
    const { s, alice } = await tokenServer();
    const src = await sourceFile(3 * MiB + 5);
    const url = await uploadAs(s, alice, src.path, src.env);
    const file = await s.ctx.meta.getFile(fileIdOf(url));
    expect(file?.owner).toBe('alice');

    // Ferry manifest, then range GETs through the Node range transport: every one needs the header.
    const out = join(src.dir, 'copy.bin');
    const d = await runCli(['download', url, '-o', out], { ...src.env, FERRY_TOKEN: alice });
    expect(d.code, d.stderr).toBe(0);
    expect(sha256(await readFile(out))).toBe(src.sha);
    expect(d.stderr).toContain('chunks verified');

    const st = await runCli(['status', file!.uploadId, '--server', s.url], { ...src.env, FERRY_TOKEN: alice });
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).toMatch(/state\s+complete/);
  });

  it('without a token, upload, download and status exit at once with one clear line', async () => {
    const { s, alice } = await tokenServer();
    const src = await sourceFile(64 * 1024);
    const url = await uploadAs(s, alice, src.path, src.env);
    const uploadId = (await s.ctx.meta.getFile(fileIdOf(url)))!.uploadId;
    const needs = `${s.url} needs a credential: pass --token or set FERRY_TOKEN.`;

    // Two files: the first 401 stops the command (the second would fail the same way).
    const up = await runCli(['upload', src.path, src.path, '--server', s.url], src.env);
    expect(up.code).toBe(1);
    expect(lines(up.stderr)).toEqual([`${src.path}: failed: ${needs}`]);

    const down = await runCli(['download', url, '-o', join(src.dir, 'x.bin')], src.env);
    expect(down.code).toBe(1);
    expect(lines(down.stderr)).toEqual([`x.bin: failed: ${needs}`]);

    const st = await runCli(['status', uploadId, '--server', s.url], src.env);
    expect(st.code).toBe(1);
    expect(lines(st.stderr)).toEqual([`ferry status: ${needs}`]);
  });

  it('an unknown key and a revoked key are refused with the server reason; --json carries the problem', async () => {
    const { s, alice } = await tokenServer();
    const src = await sourceFile(64 * 1024);
    const url = await uploadAs(s, alice, src.path, src.env);
    const unknown = `fk_${'0'.repeat(16)}_${'A'.repeat(43)}`;
    const rejected = `${s.url} rejected the credential: The API key is unknown or revoked.`;

    const up = await runCli(['upload', src.path, '--server', s.url, '--token', unknown], src.env);
    expect(up.code).toBe(1);
    expect(lines(up.stderr)).toEqual([`${src.path}: failed: ${rejected}`]);

    const { key: bobKey, record } = await createApiKey(s.ctx.meta, 'bob', 'user', '', Date.now());
    expect(await s.ctx.meta.revokeApiKey(record.id, Date.now())).toBe(true);
    const down = await runCli(['download', url, '-o', join(src.dir, 'x.bin'), '--json'], { ...src.env, FERRY_TOKEN: bobKey });
    expect(down.code).toBe(1);
    const error = JSON.parse(lines(down.stdout).at(-1)!);
    expect(error).toMatchObject({ event: 'error', message: `failed: ${rejected}`, problem: { type: 'urn:ferry:problem:invalid-credential', status: 401 } });

    const st = await runCli(['status', 'u1', '--server', s.url, '--token', bobKey], src.env);
    expect(st.code).toBe(1);
    expect(lines(st.stderr)).toEqual([`ferry status: ${rejected}`]);
  });

  it("another identity's file is not found: the download says so and does not fall back to plain HTTP", async () => {
    const { s, alice } = await tokenServer();
    const src = await sourceFile(64 * 1024);
    const url = await uploadAs(s, alice, src.path, src.env);
    const bob = (await createApiKey(s.ctx.meta, 'bob', 'user', '', Date.now())).key;
    const down = await runCli(['download', url, '-o', join(src.dir, 'x.bin')], { ...src.env, FERRY_TOKEN: bob });
    expect(down.code).toBe(1);
    expect(lines(down.stderr)).toEqual([`x.bin: failed: GET manifest failed: No file ${fileIdOf(url)}.`]);
  });
});

describe('ferry keys', () => {
  it('create, list and revoke in the data directory of a running server', async () => {
    const { s } = await tokenServer();
    const env = (await sourceFile(1)).env;
    const made = await runCli(['keys', 'create', '--identity', 'carol', '--label', 'laptop', '-d', s.dataDir], env);
    expect(made.code, made.stderr).toBe(0);
    const key = made.stdout.trim();
    expect(key).toMatch(/^fk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(made.stderr).toMatch(/API key [0-9a-f]{16} for carol \(user\) created/);
    expect((await whoami(s, key)).body).toMatchObject({ identity: 'carol', role: 'user', via: 'key', auth: 'token' });

    const list = await runCli(['keys', 'list', '--json'], { ...env, FERRY_DATA_DIR: s.dataDir });
    expect(list.code, list.stderr).toBe(0);
    const listed = JSON.parse(list.stdout).keys;
    const id = key.slice(3, 19);
    expect(listed).toContainEqual(expect.objectContaining({ id, identity: 'carol', role: 'user', label: 'laptop', revokedAt: null }));
    expect(list.stdout).not.toContain(key.slice(20));

    const table = await runCli(['keys', 'list', '-d', s.dataDir], env);
    expect(table.stdout).toMatch(new RegExp(`^${id}\\s+carol\\s+user\\s+\\S+\\s+-\\s+laptop$`, 'm'));

    const revoked = await runCli(['keys', 'revoke', key, '-d', s.dataDir], env);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect((await whoami(s, key)).status).toBe(401);

    const unknown = await runCli(['keys', 'revoke', 'ffffffffffffffff', '-d', s.dataDir], env);
    expect(unknown.code).toBe(1);
    expect(lines(unknown.stderr)).toEqual([`ferry keys revoke: no API key ffffffffffffffff in ${s.dataDir}.`]);
  });

  it('the first admin key is made before the server ever ran; the server then accepts it', async () => {
    const dir = await tempDir('ferry-keys-');
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const env = (await sourceFile(1)).env;
    const dataDir = join(dir, 'data');
    const made = await runCli(['keys', 'create', '--identity', 'ops', '--role', 'admin', '--json'], { ...env, FERRY_DATA_DIR: dataDir });
    expect(made.code, made.stderr).toBe(0);
    const { key, role } = JSON.parse(made.stdout);
    expect(role).toBe('admin');
    const s = await startTestServer({ auth: 'token', dataDir });
    cleanups.push(() => s.dispose());
    expect((await whoami(s, key)).body).toMatchObject({ identity: 'ops', role: 'admin' });

    const missing = await runCli(['keys', 'list', '-d', join(dir, 'nothing-here')], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no Ferry data in');
  });

  it('create, list and revoke on a running server with an admin key; a user key is refused', async () => {
    const { s, alice, root } = await tokenServer();
    const env = { ...(await sourceFile(1)).env, FERRY_TOKEN: root };
    const made = await runCli(['keys', 'create', '--server', s.url, '--identity', 'dave', '--role', 'admin', '--json'], env);
    expect(made.code, made.stderr).toBe(0);
    const created = JSON.parse(made.stdout);
    expect(created).toMatchObject({ identity: 'dave', role: 'admin', revokedAt: null });
    expect((await whoami(s, created.key)).body).toMatchObject({ identity: 'dave', role: 'admin' });

    const list = await runCli(['keys', 'list', '--server', s.url, '--json'], env);
    expect(JSON.parse(list.stdout).keys.map((k: { identity: string }) => k.identity).sort()).toEqual(['alice', 'dave', 'root']);

    const revoked = await runCli(['keys', 'revoke', created.id, '--server', s.url], env);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect((await whoami(s, created.key)).status).toBe(401);

    const asUser = await runCli(['keys', 'list', '--server', s.url, '--token', alice], env);
    expect(asUser.code).toBe(1);
    expect(lines(asUser.stderr)).toEqual([`ferry keys list: ${s.url}: the credential does not allow this: Only an admin may do this.`]);

    const anonymous = await runCli(['keys', 'list', '--server', s.url], { ...env, FERRY_TOKEN: undefined });
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toContain('needs an admin key: pass --token or set FERRY_TOKEN');
  });
});

describe('ferry grant', () => {
  it('signs a grant with the requested scope that the server accepts', async () => {
    const { s } = await tokenServer();
    const src = await sourceFile(100 * 1024);
    const args = ['grant', '--identity', 'erin', '--expires', '1h', '--upload', '1MiB', '--max-files', '2', '--name', '*.bin', '--name', '*.iso', '--type', 'application/*'];
    const r = await runCli([...args, '--read', 'f1', '--read', `${s.url}/files/f2`, '--files', 'read'], {
      ...src.env,
      FERRY_GRANT_SECRETS: `${grantKey.kid}:${grantKey.secret},k0:${'y'.repeat(32)}`,
    });
    expect(r.code, r.stderr).toBe(0);
    const grant = await verifyGrant(r.stdout.trim(), [grantKey]);
    expect(grant).toMatchObject({ identity: 'erin', kid: 'k1' });
    expect(grant.scope).toEqual({
      upload: { maxBytes: 1 * MiB, maxFiles: 2, names: ['*.bin', '*.iso'], types: ['application/*'] },
      read: ['f1', 'f2'],
      files: 'read',
    });
    expect(Math.abs(grant.expiresAt - (Date.now() + 3600_000))).toBeLessThan(60_000);

    // An upload grant used as the CLI's token: the file belongs to the grant's identity.
    const up = await runCli(['grant', '--secret', `${grantKey.kid}:${grantKey.secret}`, '--identity', 'erin', '--upload', '1MiB'], src.env);
    const url = await uploadAs(s, up.stdout.trim(), src.path, src.env);
    expect((await s.ctx.meta.getFile(fileIdOf(url)))?.owner).toBe('erin');

    // Over its budget: refused at once with the server's reason.
    const small = await runCli(['grant', '--secret', `${grantKey.kid}:${grantKey.secret}`, '--identity', 'erin', '--upload', '1KiB'], src.env);
    const over = await runCli(['upload', src.path, '--server', s.url, '--token', small.stdout.trim(), '--no-resume'], src.env);
    expect(over.code).toBe(1);
    expect(lines(over.stderr)).toHaveLength(1);
    expect(over.stderr).toContain(`${s.url}: the credential does not allow this:`);
  });

  it('uploads under a grant limited to some media types when --type names one of them', async () => {
    const { s } = await tokenServer();
    const src = await sourceFile(64 * 1024);
    const pdfOnly = await issueGrant({ ...grantKey, identity: 'erin', expiresIn: '10m', scope: { upload: { maxBytes: MiB, types: ['application/pdf'] } } });
    const untyped = await runCli(['upload', src.path, '--server', s.url, '--token', pdfOnly, '--no-resume'], src.env);
    expect(untyped.code).toBe(1);
    expect(untyped.stderr).toContain('the credential does not allow this');
    const typed = await runCli(['upload', src.path, '--server', s.url, '--token', pdfOnly, '--no-resume', '--type', 'application/pdf'], src.env);
    expect(typed.code, typed.stderr).toBe(0);
    expect((await s.ctx.meta.getFile(fileIdOf(typed.stdout.trim())))?.metadata).toEqual({ type: 'application/pdf' });
  });

  it('refuses a grant without a scope, narrowing without --upload, and a missing secret', async () => {
    const env = (await sourceFile(1)).env;
    const secret = `${grantKey.kid}:${grantKey.secret}`;
    const none = await runCli(['grant', '--secret', secret, '--identity', 'x'], env);
    expect(none.code).toBe(2);
    expect(lines(none.stderr)).toEqual(['ferry grant: a grant needs a scope: --upload <size>, --read <fileId> or --files read|write.']);
    expect(none.stdout).toBe('');
    const narrow = await runCli(['grant', '--secret', secret, '--identity', 'x', '--name', '*.pdf'], env);
    expect(narrow.code).toBe(2);
    expect(narrow.stderr).toContain('give --upload <size> too');
    const noSecret = await runCli(['grant', '--identity', 'x', '--files', 'read'], env);
    expect(noSecret.code).toBe(2);
    expect(noSecret.stderr).toContain('no signing secret');
  });
});

describe('ferry share and share links', () => {
  it('prints a link that ferry download fetches without a token (even with another identity in FERRY_TOKEN)', async () => {
    const { s, alice } = await tokenServer();
    const src = await sourceFile(2 * MiB + 3);
    const url = await uploadAs(s, alice, src.path, src.env);

    const shared = await runCli(['share', url, '--expires', '1h', '--token', alice], src.env);
    expect(shared.code, shared.stderr).toBe(0);
    const link = shared.stdout.trim();
    expect(link).toMatch(new RegExp(`^${s.url}/files/${fileIdOf(url)}\\?grant=[\\w-]+\\.[\\w-]+\\.[\\w-]+$`));
    expect(shared.stderr).toContain('Anyone with this link can download');

    const out = join(src.dir, 'shared.bin');
    const d = await runCli(['download', link, '-o', out], src.env);
    expect(d.code, d.stderr).toBe(0);
    expect(sha256(await readFile(out))).toBe(src.sha);

    const bob = (await createApiKey(s.ctx.meta, 'bob', 'user', '', Date.now())).key;
    const dir = join(src.dir, 'inbox');
    await mkdir(dir);
    const intoDir = await runCli(['download', link, '-o', `${dir}/`], { ...src.env, FERRY_TOKEN: bob });
    expect(intoDir.code, intoDir.stderr).toBe(0);
    expect(sha256(await readFile(join(dir, 'source.bin')))).toBe(src.sha);

    // By id with --server, as JSON; and refused for someone who does not own the file.
    const byId = await runCli(['share', fileIdOf(url), '--server', s.url, '--json'], { ...src.env, FERRY_TOKEN: alice });
    expect(byId.code, byId.stderr).toBe(0);
    expect(JSON.parse(byId.stdout)).toMatchObject({ fileId: fileIdOf(url), url: expect.stringContaining('?grant=') });
    const notOwner = await runCli(['share', url, '--token', bob], src.env);
    expect(notOwner.code).toBe(1);
    expect(lines(notOwner.stderr)).toEqual([`ferry share: ${s.url} answered 404: No file ${fileIdOf(url)}.`]);
  });

  it('an expired share link is refused by ferry download with a clear line', async () => {
    const { s, alice } = await tokenServer();
    const src = await sourceFile(64 * 1024);
    const fileId = fileIdOf(await uploadAs(s, alice, src.path, src.env));
    const grant = await issueGrant({ ...s.ctx.shareKey!, identity: 'alice', expiresIn: 60, scope: { read: [fileId] } });
    const link = `${s.url}/files/${fileId}?grant=${grant}`;
    expect((await fetch(link)).status).toBe(200);
    // The server's clock past the link's expiry: no waiting.
    s.ctx.now = () => Date.now() + 61_000;
    const res = await fetch(link);
    expect(res.status).toBe(401);
    expect((await res.json()).type).toBe('urn:ferry:problem:credential-expired');
    const d = await runCli(['download', link, '-o', join(src.dir, 'late.bin')], src.env);
    expect(d.code).toBe(1);
    expect(lines(d.stderr)).toEqual([`late.bin: failed: ${s.url} rejected the credential: The grant or link has expired; ask for a new one.`]);
  });
});
