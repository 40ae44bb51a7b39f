// `ferry ls`, `ferry rm`, `ferry abort` and `ferry status` without an upload, run as the built CLI
// against a real server on loopback, with the resume store in a state directory of the test's own.
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createResumeStore } from '../../src/client/node/index.js';
import { displayWidth } from '../../src/cli/output-width.js';
import { createApiKey } from '../../src/server/auth/api-keys.js';
import { runCli } from '../helpers/cli.js';
import { sha256Field } from '../helpers/digest.js';
import { closedPort } from '../helpers/ports.js';
import { KiB, startTestServer, tempDir, type TestServer } from '../helpers/server.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const chunkSize = 1 * KiB;

/** A token-mode server with a user key for alice and bob and an admin key. */
async function tokenServer() {
  const s: TestServer = await startTestServer({ auth: 'token' });
  cleanups.push(() => s.dispose());
  const key = async (identity: string, role: 'user' | 'admin') => (await createApiKey(s.ctx.meta, identity, role, 'test', Date.now())).key;
  return { s, alice: await key('alice', 'user'), bob: await key('bob', 'user'), root: await key('root', 'admin') };
}

/** A state directory of the test's own, and an environment that points the CLI at it (and at nothing else). */
async function scratch(): Promise<{ stateDir: string; env: NodeJS.ProcessEnv }> {
  const dir = await tempDir('ferry-commands-');
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const stateDir = join(dir, 'state');
  return { stateDir, env: { FERRY_STATE_DIR: stateDir, FERRY_TOKEN: undefined, FERRY_SERVER: undefined, XDG_STATE_HOME: undefined } };
}

async function api(base: string, method: string, path: string, token: string | undefined, body?: Buffer | object): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  let payload: Blob | string | undefined;
  if (Buffer.isBuffer(body)) {
    headers['content-digest'] = sha256Field(body);
    payload = new Blob([new Uint8Array(body)]);
  } else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(new URL(path, base), { method, headers, body: payload });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** Creates an upload of `bytes` and sends the chunks listed (all by default): the create reply's body. */
async function uploadBytes(s: TestServer, token: string | undefined, name: string, bytes: Buffer, chunks?: number[]) {
  const created = await api(s.url, 'POST', '/uploads', token, { name, size: bytes.length, chunkSize });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const total = Math.max(1, Math.ceil(bytes.length / chunkSize));
  for (const i of chunks ?? [...Array(total).keys()]) {
    const put = await api(s.url, 'PUT', `/uploads/${created.body.uploadId}/chunks/${i}`, token, bytes.subarray(i * chunkSize, (i + 1) * chunkSize));
    expect(put.status, JSON.stringify(put.body)).toBe(201);
  }
  return created.body as { uploadId: string; uploadUrl: string; expiresAt: string };
}

/** A whole file on the server: its id and URL. */
async function storedFile(s: TestServer, token: string | undefined, name: string, size: number): Promise<{ fileId: string; fileUrl: string }> {
  const { uploadId } = await uploadBytes(s, token, name, randomBytes(size));
  let st: { status: number; body: any } | undefined;
  await expect.poll(async () => (st = await api(s.url, 'GET', `/uploads/${uploadId}`, token)).body.state).toBe('complete');
  return { fileId: st!.body.fileId, fileUrl: st!.body.fileUrl };
}

/** Records an upload in the CLI's resume store, as `ferry upload` does when it creates one. */
async function remember(stateDir: string, key: string, upload: { uploadId: string; uploadUrl: string; expiresAt: string }, serverUrl: string, name: string, size: number) {
  await createResumeStore({ dir: stateDir }).set(key, {
    uploadId: upload.uploadId,
    uploadUrl: upload.uploadUrl,
    serverUrl,
    name,
    size,
    chunkSize,
    totalChunks: Math.ceil(size / chunkSize),
    createdAt: Date.now(),
    expiresAt: Date.parse(upload.expiresAt),
  });
}

async function rememberedIds(stateDir: string): Promise<string[]> {
  return Object.values(await createResumeStore({ dir: stateDir }).list()).map((e) => e.uploadId);
}

const stderrLines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

describe('ferry ls', () => {
  it("lists the caller's files, aligned, one per line, with size, time, URL and name; not another identity's", async () => {
    const { s, alice, bob } = await tokenServer();
    const { env } = await scratch();
    const a = await storedFile(s, alice, 'report.pdf', 3 * KiB);
    const b = await storedFile(s, alice, 'name with spaces.bin', 10);
    const other = await storedFile(s, bob, 'bobs.txt', 5);

    const r = await runCli(['ls', '--server', s.url, '--token', alice], env);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^\s*SIZE\s+UPLOADED\s+URL\s+NAME$/);
    // Newest first; every URL starts in the same column.
    expect(lines[1]).toMatch(new RegExp(`^\\s*10 B  \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ  ${b.fileUrl}  name with spaces\\.bin$`));
    expect(lines[2]).toMatch(new RegExp(`^3\\.0 KiB  \\S+  ${a.fileUrl}  report\\.pdf$`));
    expect(new Set(lines.map((l) => l.indexOf('http') < 0 ? l.indexOf('URL') : l.indexOf('http'))).size).toBe(1);
    expect(r.stdout).not.toContain(other.fileId);

    const json = await runCli(['ls', '--server', s.url, '--json'], { ...env, FERRY_TOKEN: alice });
    expect(json.code, json.stderr).toBe(0);
    const listed = JSON.parse(json.stdout);
    expect(listed.files.map((f: { fileId: string }) => f.fileId)).toEqual([b.fileId, a.fileId]);
    expect(listed.files[1]).toMatchObject({ name: 'report.pdf', size: 3 * KiB, fileUrl: a.fileUrl, owner: 'alice' });
  });

  it("an admin sees everyone's files, with an owner column; --owner narrows it", async () => {
    const { s, alice, bob, root } = await tokenServer();
    const { env } = await scratch();
    await storedFile(s, alice, 'a.bin', 1);
    await storedFile(s, bob, 'b.bin', 2);
    const all = await runCli(['ls', '--server', s.url, '--token', root], env);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout.split('\n')[0]).toMatch(/SIZE\s+UPLOADED\s+OWNER\s+URL\s+NAME/);
    expect(all.stdout).toMatch(/ alice .* a\.bin/);
    expect(all.stdout).toMatch(/ bob .* b\.bin/);
    const bobs = await runCli(['ls', '--server', s.url, '--token', root, '--owner', 'bob', '--json'], env);
    expect(JSON.parse(bobs.stdout).files.map((f: { name: string }) => f.name)).toEqual(['b.bin']);
  });

  it('no files: says so on stderr, nothing on stdout, exit 0', async () => {
    const { s, alice } = await tokenServer();
    const { env } = await scratch();
    const r = await runCli(['ls', '--server', s.url, '--token', alice], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(stderrLines(r.stderr)).toEqual([`no files on ${s.url}`]);
  });

  it('reads every page of a list longer than one (the server answers at most 1000 a page)', async () => {
    const s = await startTestServer();
    cleanups.push(() => s.dispose());
    const { env } = await scratch();
    // Records only (listing reads no bytes): 1003 uploads through HTTP would take the test's time for nothing.
    const t0 = Date.UTC(2026, 0, 1);
    for (let i = 0; i < 1003; i++) {
      await s.ctx.meta.createFile({
        id: `file${String(i).padStart(20, '0')}`,
        uploadId: `upload${String(i).padStart(18, '0')}`,
        name: `n${i}.bin`,
        size: i,
        chunkSize,
        totalChunks: 1,
        algorithm: 'sha-256',
        fileDigest: null,
        etag: `"e${i}"`,
        metadata: {},
        blobRef: `none-${i}`,
        createdAt: t0 + i * 1000,
        owner: 'anonymous',
      });
    }
    const r = await runCli(['ls', '--server', s.url, '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const names = JSON.parse(r.stdout).files.map((f: { name: string }) => f.name);
    expect(names).toHaveLength(1003);
    expect(names[0]).toBe('n1002.bin');
    expect(names.at(-1)).toBe('n0.bin');
    const text = await runCli(['ls', '--server', s.url], env);
    expect(text.stdout.trimEnd().split('\n')).toHaveLength(1004);
  });

  it('without a credential, or with a rejected one: one line, exit 1', async () => {
    const { s } = await tokenServer();
    const { env } = await scratch();
    const none = await runCli(['ls', '--server', s.url], env);
    expect(none.code).toBe(1);
    expect(stderrLines(none.stderr)).toEqual([`ferry ls: ${s.url} needs a credential: pass --token or set FERRY_TOKEN.`]);
    const bad = await runCli(['ls', '--server', s.url, '--token', `fk_${'0'.repeat(16)}_${'A'.repeat(43)}`], env);
    expect(bad.code).toBe(1);
    expect(stderrLines(bad.stderr)).toEqual([`ferry ls: ${s.url} rejected the credential: The API key is unknown or revoked.`]);
  });

  it('a server that is not there: one line, exit 1', async () => {
    const { env } = await scratch();
    const r = await runCli(['ls', '--server', `http://127.0.0.1:${await closedPort()}`], env);
    expect(r.code).toBe(1);
    expect(stderrLines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/^ferry ls: cannot reach http:\/\/127\.0\.0\.1:\d+/);
  });
});

describe('ferry rm', () => {
  it('deletes files named by id or by URL; their URLs then answer 404', async () => {
    const { s, alice } = await tokenServer();
    const { env } = await scratch();
    const a = await storedFile(s, alice, 'a.bin', 100);
    const b = await storedFile(s, alice, 'b.bin', 200);
    const keep = await storedFile(s, alice, 'keep.bin', 300);
    const r = await runCli(['rm', a.fileId, b.fileUrl, '--server', s.url, '--token', alice], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(stderrLines(r.stderr)).toEqual([`deleted ${a.fileId}`, `deleted ${b.fileId}`]);
    expect((await api(s.url, 'GET', `/files/${a.fileId}`, alice)).status).toBe(404);
    expect((await api(s.url, 'GET', `/files/${b.fileId}`, alice)).status).toBe(404);
    expect((await api(s.url, 'HEAD', `/files/${keep.fileId}`, alice)).status).toBe(200);
  });

  it("an unknown id, or another identity's file: 'no such file', exit 1, the others still deleted", async () => {
    const { s, alice, bob } = await tokenServer();
    const { env } = await scratch();
    const mine = await storedFile(s, alice, 'mine.bin', 10);
    const theirs = await storedFile(s, bob, 'theirs.bin', 10);
    const r = await runCli(['rm', 'NoSuchFileAtAll0123456789', theirs.fileId, mine.fileId, '--server', s.url, '--token', alice], env);
    expect(r.code).toBe(1);
    expect(stderrLines(r.stderr)).toEqual([
      `ferry rm: no such file NoSuchFileAtAll0123456789 on ${s.url}`,
      `ferry rm: no such file ${theirs.fileId} on ${s.url}`,
      `deleted ${mine.fileId}`,
    ]);
    expect((await api(s.url, 'HEAD', `/files/${theirs.fileId}`, bob)).status).toBe(200);
  });

  it('a credential that may read but not delete: one line from the 403, exit 1', async () => {
    const { s, alice } = await tokenServer();
    const { env } = await scratch();
    const file = await storedFile(s, alice, 'f.bin', 10);
    // A share link's grant reads the file; deleting needs write access.
    const link = await api(s.url, 'POST', `/files/${file.fileId}/share`, alice, {});
    const grant = new URL(link.body.url).searchParams.get('grant')!;
    const r = await runCli(['rm', file.fileUrl, '--token', grant], env);
    expect(r.code).toBe(1);
    const lines = stderrLines(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^ferry rm: ${s.url}: the credential does not allow this: `));
    expect((await api(s.url, 'HEAD', `/files/${file.fileId}`, alice)).status).toBe(200);
  });

  it('no credential: stops at the first file with one line', async () => {
    const { s, alice } = await tokenServer();
    const { env } = await scratch();
    const a = await storedFile(s, alice, 'a.bin', 10);
    const b = await storedFile(s, alice, 'b.bin', 10);
    const r = await runCli(['rm', a.fileId, b.fileId, '--server', s.url], env);
    expect(r.code).toBe(1);
    expect(stderrLines(r.stderr)).toEqual([`ferry rm: ${s.url} needs a credential: pass --token or set FERRY_TOKEN.`]);
  });
});

describe('ferry abort', () => {
  it('aborts an upload in progress by id: the server frees it and this machine forgets it', async () => {
    const s = await startTestServer();
    cleanups.push(() => s.dispose());
    const { stateDir, env } = await scratch();
    const up = await uploadBytes(s, undefined, 'half.bin', randomBytes(4 * KiB), [0, 1]);
    const other = await uploadBytes(s, undefined, 'other.bin', randomBytes(2 * KiB), [0]);
    await remember(stateDir, 'k1', up, s.url, 'half.bin', 4 * KiB);
    await remember(stateDir, 'k2', other, s.url, 'other.bin', 2 * KiB);
    // No --server: the id is known here, so it goes to the server it was uploaded to.
    const r = await runCli(['abort', up.uploadId], { ...env, FERRY_SERVER: `http://127.0.0.1:${await closedPort()}` });
    expect(r.code, r.stderr).toBe(0);
    expect(stderrLines(r.stderr)).toEqual([`aborted upload ${up.uploadId} on ${s.url}; removed from this machine's unfinished uploads`]);
    expect((await api(s.url, 'GET', `/uploads/${up.uploadId}`, undefined)).body.state).toBe('aborted');
    expect(await rememberedIds(stateDir)).toEqual([other.uploadId]);
  });

  it('by URL, for an upload this machine does not know', async () => {
    const s = await startTestServer();
    cleanups.push(() => s.dispose());
    const { env } = await scratch();
    const up = await uploadBytes(s, undefined, 'x.bin', randomBytes(3 * KiB), [1]);
    const r = await runCli(['abort', up.uploadUrl], env);
    expect(r.code, r.stderr).toBe(0);
    expect(stderrLines(r.stderr)).toEqual([`aborted upload ${up.uploadId} on ${s.url}`]);
    expect((await api(s.url, 'GET', `/uploads/${up.uploadId}`, undefined)).body.state).toBe('aborted');
  });

  it("an unknown upload: 'no such upload', exit 1; a stale entry here is forgotten all the same", async () => {
    const s = await startTestServer();
    cleanups.push(() => s.dispose());
    const { stateDir, env } = await scratch();
    const ghost = { uploadId: 'GhostUpload0123456789abc', uploadUrl: `${s.url}/uploads/GhostUpload0123456789abc`, expiresAt: new Date(Date.now() + 3600_000).toISOString() };
    await remember(stateDir, 'ghost', ghost, s.url, 'ghost.bin', 10);
    const r = await runCli(['abort', ghost.uploadId], env);
    expect(r.code).toBe(1);
    expect(stderrLines(r.stderr)).toEqual([`ferry abort: no such upload ${ghost.uploadId} on ${s.url}; removed from this machine's unfinished uploads`]);
    expect(await rememberedIds(stateDir)).toEqual([]);
    const unknown = await runCli(['abort', 'NoSuchUpload0123456789ab', '--server', s.url], env);
    expect(unknown.code).toBe(1);
    expect(stderrLines(unknown.stderr)).toEqual([`ferry abort: no such upload NoSuchUpload0123456789ab on ${s.url}`]);
  });

  it('a finished upload is not aborted: one line, the file stays', async () => {
    const s = await startTestServer();
    cleanups.push(() => s.dispose());
    const { env } = await scratch();
    const { uploadId } = await uploadBytes(s, undefined, 'done.bin', randomBytes(100));
    await expect.poll(async () => (await api(s.url, 'GET', `/uploads/${uploadId}`, undefined)).body.state).toBe('complete');
    const r = await runCli(['abort', uploadId, '--server', s.url], env);
    expect(r.code).toBe(1);
    expect(stderrLines(r.stderr)).toEqual([`ferry abort: Upload ${uploadId} is already complete: its file stays on the server (ferry rm deletes it)`]);
  });

  it("another identity's upload is not found; without a credential, one line", async () => {
    const { s, alice, bob } = await tokenServer();
    const { env } = await scratch();
    const up = await uploadBytes(s, alice, 'a.bin', randomBytes(2 * KiB), [0]);
    const asBob = await runCli(['abort', up.uploadUrl, '--token', bob], env);
    expect(asBob.code).toBe(1);
    expect(stderrLines(asBob.stderr)).toEqual([`ferry abort: no such upload ${up.uploadId} on ${s.url}`]);
    const none = await runCli(['abort', up.uploadUrl], env);
    expect(none.code).toBe(1);
    expect(stderrLines(none.stderr)).toEqual([`ferry abort: ${s.url} needs a credential: pass --token or set FERRY_TOKEN.`]);
    expect((await api(s.url, 'GET', `/uploads/${up.uploadId}`, alice)).body.state).toBe('uploading');
  });
});

describe('ferry status without an upload', () => {
  it("none: 'no unfinished uploads', exit 0", async () => {
    const { env } = await scratch();
    const r = await runCli(['status'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(stderrLines(r.stderr)).toEqual(['no unfinished uploads']);
    const json = await runCli(['status', '--json'], env);
    expect(JSON.parse(json.stdout)).toEqual({ uploads: [] });
  });

  it("lists this machine's unfinished uploads with what each server holds, expiry and URL", async () => {
    const s = await startTestServer();
    cleanups.push(() => s.dispose());
    const { stateDir, env } = await scratch();
    const half = await uploadBytes(s, undefined, 'half.bin', randomBytes(4 * KiB), [0, 2]);
    await remember(stateDir, 'k1', half, s.url, 'half.bin', 4 * KiB);
    // One on a server that no longer answers, and one the server has dropped.
    const away = `http://127.0.0.1:${await closedPort()}`;
    const lost = { uploadId: 'LostUpload0123456789abcd', uploadUrl: `${away}/uploads/LostUpload0123456789abcd`, expiresAt: new Date(Date.now() + 3600_000).toISOString() };
    await remember(stateDir, 'k2', lost, away, 'away.bin', 10 * KiB);
    const gone = { uploadId: 'GoneUpload0123456789abcd', uploadUrl: `${s.url}/uploads/GoneUpload0123456789abcd`, expiresAt: new Date(Date.now() + 3600_000).toISOString() };
    await remember(stateDir, 'k3', gone, s.url, 'gone.bin', 1);

    const r = await runCli(['status'], env);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+SIZE\s+ON SERVER\s+EXPIRES\s+URL$/);
    const serverExpiry = (await api(s.url, 'GET', `/uploads/${half.uploadId}`, undefined)).body.expiresAt as string;
    expect(lines.find((l) => l.startsWith('half.bin'))).toMatch(
      new RegExp(`^half\\.bin\\s+4\\.0 KiB\\s+2\\.0 KiB \\(50%\\)\\s+${serverExpiry.slice(0, 19)}Z\\s+${half.uploadUrl}$`),
    );
    expect(lines.find((l) => l.startsWith('away.bin'))).toMatch(new RegExp(`unreachable\\s+\\S+\\s+${lost.uploadUrl}$`));
    expect(lines.find((l) => l.startsWith('gone.bin'))).toMatch(new RegExp(`gone\\s+\\S+\\s+${gone.uploadUrl}$`));
    expect(new Set(lines.map((l) => l.indexOf('http') < 0 ? l.indexOf('URL') : l.indexOf('http'))).size).toBe(1);

    const json = await runCli(['status', '--json'], env);
    const listed = JSON.parse(json.stdout).uploads as any[];
    expect(listed.find((u) => u.uploadId === half.uploadId)).toMatchObject({ name: 'half.bin', size: 4 * KiB, server: { state: 'uploading', bytesReceived: 2 * KiB, missing: '1,3' } });
    expect(listed.find((u) => u.uploadId === lost.uploadId)).toMatchObject({ server: null, problem: 'unreachable' });
  });

  it("the token given for --server goes to that server only, never to another server an upload here lives on", async () => {
    const { s, alice } = await tokenServer();
    const { stateDir, env } = await scratch();
    const mine = await uploadBytes(s, alice, 'mine.bin', randomBytes(4 * KiB), [0]);
    await remember(stateDir, 'k1', mine, s.url, 'mine.bin', 4 * KiB);
    // Another server, which records the Authorization of every request it gets.
    const seen: Array<string | undefined> = [];
    const { createServer } = await import('node:http');
    const other = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(404, { 'content-type': 'application/problem+json' }).end('{"type":"https://ferry.dev/problems/upload-not-found","status":404}');
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => other.close(resolve)));
    const otherUrl = `http://127.0.0.1:${(other.address() as { port: number }).port}`;
    const elsewhere = { uploadId: 'ElsewhereUpload0123456789', uploadUrl: `${otherUrl}/uploads/ElsewhereUpload0123456789`, expiresAt: new Date(Date.now() + 3600_000).toISOString() };
    await remember(stateDir, 'k2', elsewhere, otherUrl, 'elsewhere.bin', 1);

    const r = await runCli(['status', '--server', s.url], { ...env, FERRY_TOKEN: alice });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/mine\.bin\s+4\.0 KiB\s+1\.0 KiB \(25%\)/);
    await runCli(['abort', elsewhere.uploadId, '--server', s.url], { ...env, FERRY_TOKEN: alice });
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen.every((a) => a === undefined)).toBe(true);
  });

  it('`ferry status <id>` still shows one upload; an unknown one is one line', async () => {
    const s = await startTestServer();
    cleanups.push(() => s.dispose());
    const { env } = await scratch();
    const up = await uploadBytes(s, undefined, 'one.bin', randomBytes(2 * KiB), [1]);
    const r = await runCli(['status', up.uploadId, '--server', s.url], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/state\s+uploading/);
    expect(r.stdout).toMatch(/missing\s+0/);
    const unknown = await runCli(['status', 'NoSuchUpload0123456789ab', '--server', s.url], env);
    expect(unknown.code).toBe(1);
    expect(stderrLines(unknown.stderr)).toEqual([`ferry status: no such upload NoSuchUpload0123456789ab on ${s.url}`]);
  });

  it("`ferry status <id>` of an upload this machine knows asks that upload's server (as abort does), without --server's token", async () => {
    const { s, alice } = await tokenServer();
    const open = await startTestServer();
    cleanups.push(() => open.dispose());
    const { stateDir, env } = await scratch();
    const up = await uploadBytes(open, undefined, 'there.bin', randomBytes(2 * KiB), [0]);
    await remember(stateDir, 'k1', up, open.url, 'there.bin', 2 * KiB);
    // --server names another server (the token is for it): the id is still asked of its own server.
    const r = await runCli(['status', up.uploadId, '--server', s.url], { ...env, FERRY_TOKEN: alice });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/state\s+uploading/);
    expect(r.stdout).toMatch(/missing\s+1/);
    const unknownHere = await runCli(['status', 'NoSuchUpload0123456789ab', '--server', open.url], env);
    expect(stderrLines(unknownHere.stderr)).toEqual([`ferry status: no such upload NoSuchUpload0123456789ab on ${open.url}`]);
  });

  it('the listing stays aligned with CJK and emoji names (two columns each)', async () => {
    const s = await startTestServer();
    cleanups.push(() => s.dispose());
    const { stateDir, env } = await scratch();
    const names = ['plain.bin', '日本語の資料.bin', '🚀launch.bin'];
    for (const [i, name] of names.entries()) {
      const up = await uploadBytes(s, undefined, name, randomBytes(2 * KiB), [0]);
      await remember(stateDir, `k${i}`, up, s.url, name, 2 * KiB);
    }
    const r = await runCli(['status'], env);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    // Every URL starts in the same terminal column.
    const columns = lines.map((l) => displayWidth(l.slice(0, l.lastIndexOf(l.includes('http') ? 'http' : 'URL'))));
    expect(new Set(columns).size, r.stdout).toBe(1);
  });
});

describe('help', () => {
  for (const [command, words] of [
    ['ls', ['List your files', '--server', '--token', '--owner', '--json']],
    ['rm', ['Delete files', '<file...>', '--server', '--token']],
    ['abort', ['Abort an upload', '<upload>', '--server', '--token']],
    ['status', ['[upload]', "this machine's unfinished uploads", '--json']],
  ] as const) {
    it(`ferry ${command} --help says what it does`, async () => {
      const r = await runCli([command, '--help']);
      expect(r.code).toBe(0);
      for (const word of words) expect(r.stdout).toContain(word);
    });
  }

  it('ferry --help lists the new commands', async () => {
    const r = await runCli(['--help']);
    for (const command of ['ls', 'rm', 'abort', 'status']) expect(r.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
  });
});
