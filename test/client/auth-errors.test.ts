// The client library with auth on: 401/403 are final (never retried), a Ferry server's refusal at the
// manifest is not mistaken for "plain HTTP", the download's headers reach every request, and a share
// link's grant stays out of the sidecar.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { problemFrom } from '../../src/client/engine/http-problem.js';
import { download, isDownloadError, probe } from '../../src/client/node/download.js';
import { classifyError } from '../../src/client/engine/retry.js';
import { FerryError, type ProblemCode } from '../../src/protocol/index.js';
import { createApiKey } from '../../src/server/auth/api-keys.js';
import { makeShareLink } from '../../src/server/auth/share-links.js';
import { MiB, startTestServer, type TestServer } from '../helpers/server.js';
import { upload } from '../../src/client/node/index.js';
import { tempDir } from '../download/support.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('retry classification', () => {
  const codes: ProblemCode[] = ['unauthenticated', 'invalid-credential', 'credential-expired', 'forbidden', 'grant-budget-exceeded', 'upload-refused'];
  it.each(codes)('%s is fatal', (code) => {
    expect(classifyError(new FerryError(code)).kind).toBe('fatal');
  });

  it('a bare 401 or 403 (a proxy in front) is an auth problem, and fatal', () => {
    const e401 = problemFrom(new Response('denied', { status: 401, statusText: 'Unauthorized' }), 'denied');
    const e403 = problemFrom(new Response('', { status: 403, statusText: 'Forbidden' }), '');
    expect([e401.code, e401.status, e403.code, e403.status]).toEqual(['unauthenticated', 401, 'forbidden', 403]);
    expect(classifyError(e401).kind).toBe('fatal');
    expect(classifyError(e403).kind).toBe('fatal');
  });
});

/** Stores `data` as the key's identity (the upload library, with the key in its headers). */
async function storeFileAs(server: string, key: string, data: Buffer): Promise<{ fileId: string; fileUrl: string }> {
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  const path = join(dir, 'payload.bin');
  await writeFile(path, data);
  const result = await upload(path, { server, resume: false, chunkSize: 256 * 1024, headers: { authorization: `Bearer ${key}` } }).result;
  return { fileId: result.fileId, fileUrl: result.fileUrl };
}

async function tokenServer(): Promise<{ s: TestServer; alice: string }> {
  const s = await startTestServer({ auth: 'token', defaultChunkSize: 256 * 1024 });
  cleanups.push(() => s.dispose());
  return { s, alice: (await createApiKey(s.ctx.meta, 'alice', 'user', '', Date.now())).key };
}

describe('downloads from a token-mode server', () => {
  it('without a credential: a fatal unauthenticated error at the manifest, no plain-HTTP fallback, no retry', async () => {
    const { s, alice } = await tokenServer();
    const { fileUrl } = await storeFileAs(s.url, alice, randomBytes(1 * MiB));
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const retries: unknown[] = [];
    const handle = download(fileUrl, join(dir, 'out.bin'));
    handle.on('retry', (r) => retries.push(r));
    const error = await handle.result.then(
      () => null,
      (e: unknown) => e,
    );
    expect(isDownloadError(error) && error.reason).toBe('fatal');
    expect(isDownloadError(error) && error.problem?.code).toBe('unauthenticated');
    expect(retries).toEqual([]);
    await expect(probe(fileUrl)).rejects.toMatchObject({ reason: 'fatal', problem: { code: 'unauthenticated' } });
  });

  it.each([
    ['the Node range transport', {}],
    ['fetch only', { ranges: null }],
  ])('with headers: every request carries them (%s)', async (_name, io) => {
    const { s, alice } = await tokenServer();
    const data = randomBytes(2 * MiB + 17);
    const { fileUrl } = await storeFileAs(s.url, alice, data);
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const out = join(dir, 'out.bin');
    const result = await download(fileUrl, out, { ...io, concurrency: 4, headers: { authorization: `Bearer ${alice}` } }).result;
    expect(result).toMatchObject({ verified: 'chunks', size: data.length });
    expect((await readFile(out)).equals(data)).toBe(true);
  });

  it('a share link: the manifest URL keeps ?grant=, the sidecar never holds it, a new link resumes', async () => {
    const { s, alice } = await tokenServer();
    const data = randomBytes(2 * MiB);
    const { fileId } = await storeFileAs(s.url, alice, data);
    const file = (await s.ctx.meta.getFile(fileId))!;
    const link = async () => (await makeShareLink(s.ctx.shareKey!, file, 3600, s.url, Date.now())).url;
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const out = join(dir, 'out.bin');
    // Stopped after its first chunk, so the sidecar stays on disk to look at.
    const first = download(await link(), out, { concurrency: 1, stateIntervalMs: 0 });
    first.on('progress', (p) => p.chunksDone >= 1 && first.abort());
    await expect(first.result).rejects.toMatchObject({ reason: 'aborted' });
    const state = JSON.parse(await readFile(`${out}.part.ferry`, 'utf8'));
    expect(state.url).toBe(`${s.url}/files/${fileId}`);
    expect(state.done).not.toBe('');
    expect(JSON.stringify(state)).not.toContain('grant');

    const second = download(await link(), out);
    const result = await second.result;
    expect(result).toMatchObject({ verified: 'chunks', resumed: true });
    expect((await readFile(out)).equals(data)).toBe(true);
  });
});

describe('a plain HTTP server that answers 403 for any path it did not sign (S3, GCS signed URLs)', () => {
  it('is probed as plain HTTP: its 403 at /manifest is not a Ferry refusal', async () => {
    const data = randomBytes(64 * 1024);
    const server = createServer((req, res) => {
      if (req.url !== '/obj?sig=1') return void res.writeHead(403, { 'content-type': 'application/xml' }).end('<Error><Code>SignatureDoesNotMatch</Code></Error>');
      res.writeHead(200, { 'content-length': data.length, 'accept-ranges': 'bytes', etag: '"v1"' });
      res.end(req.method === 'HEAD' ? undefined : data);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(r)));
    const remote = await probe(`http://127.0.0.1:${(server.address() as AddressInfo).port}/obj?sig=1`);
    expect(remote).toMatchObject({ mode: 'ranges', size: data.length, manifest: null });
  });
});
