// Files leave cleanly: deletion while a download streams, retention (--file-ttl), and the serve
// command's refusal to run open on a public address.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { request } from 'node:http';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { Paths } from '../../src/protocol/index.js';
import type { FerryEvent } from '../../src/server/events.js';
import { startServer } from '../../src/server/index.js';
import { track } from '../helpers/children.js';
import { call, chunkOf, create, sendChunks } from '../helpers/http.js';
import { MiB, spawnServer, startTestServer, tempDir, testLimits, type ChildServer, type TestServer } from '../helpers/server.js';

const servers: Array<{ dispose(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.dispose()));
});

async function uploadFile(server: TestServer, data: Buffer, chunkSize = 1 * MiB): Promise<string> {
  const created = await create(server.url, { name: 'big.bin', size: data.length, chunkSize });
  const order = Array.from({ length: created.body.totalChunks }, (_, i) => i);
  const replies = await sendChunks(server.url, created.body.uploadId, data, chunkSize, order);
  const fileId = replies.find((r) => r.body.fileId)?.body.fileId;
  expect(fileId).toBeTruthy();
  return fileId as string;
}

describe('deleting a file', () => {
  it('lets a download that already started finish with the right bytes, and refuses new ones', async () => {
    const server = await startTestServer();
    servers.push(server);
    const data = randomBytes(24 * MiB);
    const fileId = await uploadFile(server, data);

    // Start a download and stop reading after its first bytes, so most of the file is still to come.
    const parts: Buffer[] = [];
    const { res, firstBytes } = await new Promise<{ res: import('node:http').IncomingMessage; firstBytes: Buffer }>((done, fail) => {
      const req = request(new URL(Paths.file(fileId), server.url), { agent: false }, (res) => {
        res.once('data', (first: Buffer) => {
          res.pause();
          done({ res, firstBytes: first });
        });
      });
      req.on('error', fail);
      req.end();
    });
    parts.push(firstBytes);

    expect((await call(server.url, 'DELETE', Paths.file(fileId))).status).toBe(204);
    expect((await call(server.url, 'GET', Paths.file(fileId))).body.type).toBe('urn:ferry:problem:file-not-found');
    expect((await call(server.url, 'GET', Paths.manifest(fileId))).status).toBe(404);

    const rest = await new Promise<{ complete: boolean }>((done) => {
      res.on('data', (p: Buffer) => parts.push(p));
      res.once('end', () => done({ complete: true }));
      res.once('error', () => done({ complete: false }));
      res.resume();
    });
    const got = Buffer.concat(parts);
    // The file system keeps the unlinked file readable for the response that opened it.
    expect(rest.complete).toBe(true);
    expect(got.equals(data)).toBe(true);
  });
});

describe('file retention', () => {
  it('deletes finished files older than --file-ttl, with a file.deleted event, and keeps younger ones', async () => {
    const dataDir = await tempDir();
    const events: FerryEvent[] = [];
    const server = await startServer(
      { port: 0, host: '127.0.0.1', logLevel: 'silent', ...testLimits, dataDir, fileTtlSeconds: 3600 },
      { onEvent: (e) => void events.push(e) },
    );
    const test = { ...server, dataDir, dispose: () => server.close() } as TestServer;
    servers.push(test);
    const data = randomBytes(100_000);
    const oldId = await uploadFile(test, data, 64 * 1024);
    const realNow = server.ctx.now;
    server.ctx.now = () => realNow() + 1800_000;
    const youngId = await uploadFile(test, chunkOf(data, 1000, 0), 64 * 1024);
    server.ctx.now = () => realNow() + 3601_000;
    expect((await server.sweep()).retired).toBe(1);
    expect(await server.ctx.meta.getFile(oldId)).toBeUndefined();
    expect(await server.ctx.meta.getFile(youngId)).toBeDefined();
    expect((await call(server.url, 'GET', Paths.file(oldId))).status).toBe(404);
    expect(events.filter((e) => e.type === 'file.deleted').map((e) => e.data.fileId)).toEqual([oldId]);
    server.ctx.now = realNow;
  });
});

describe('ferry serve and the address it listens on', () => {
  const cli = resolve(import.meta.dirname, '../../dist/cli/main.js');
  let child: ChildServer | undefined;
  afterEach(async () => {
    await child?.kill();
    child = undefined;
  });

  it('refuses open mode on a public address, with one clear line', async () => {
    const dataDir = await tempDir();
    // Killed whatever happens: if the refusal broke, this would be an open server on every interface.
    const run = spawn(process.execPath, [cli, 'serve', '--host', '0.0.0.0', '--port', '0', '--auth', 'open', '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    track(run);
    onTestFinished(() => rm(dataDir, { recursive: true, force: true }));
    let stderr = '';
    run.stderr.on('data', (d: Buffer) => (stderr += d));
    const code = await new Promise<number | null>((done) => run.once('exit', done));
    expect(code).toBe(2);
    expect(stderr).toMatch(/--i-know-this-is-public/);
  });

  it('says in one line why it cannot start when the port is taken', async () => {
    child = await spawnServer(['--data-dir', await tempDir()]);
    const dataDir = await tempDir();
    const run = track(spawn(process.execPath, [cli, 'serve', '--port', String(new URL(child.url).port), '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] }));
    onTestFinished(() => rm(dataDir, { recursive: true, force: true }));
    let stderr = '';
    run.stderr.on('data', (d: Buffer) => (stderr += d));
    const code = await new Promise<number | null>((done) => run.once('exit', done));
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/^ferry serve: .*EADDRINUSE/);
  });

  it('turns token mode on by itself on a public address, and says so when it starts', async () => {
    child = await spawnServer(['--host', '0.0.0.0', '--data-dir', await tempDir()]);
    expect(child.listening).toMatchObject({ auth: 'token', address: '0.0.0.0' });
    // Links name this machine unless told the address clients use.
    await expect.poll(() => child!.logs.map((l) => l.event)).toContain('no-public-url');
    expect((await call(child.url, 'GET', '/files')).status).toBe(401);
    expect((await call(child.url, 'GET', '/healthz')).status).toBe(200);
  });

  it('serves open mode on loopback, as npm start does', async () => {
    child = await spawnServer(['--data-dir', await tempDir()]);
    expect(child.listening).toMatchObject({ auth: 'open', address: '127.0.0.1' });
    expect((await call(child.url, 'GET', '/files')).status).toBe(200);
  });
});
