// Ctrl-C while the creation request (which carries chunk 0) is in flight. The server may already have
// made the upload; only the answer names it. The CLI lets that answer come (up to a few seconds), then
// keeps the upload for the same command to resume, or (--no-resume) deletes it; with no answer it says
// the server may keep a partial upload. Before, it dropped the answer: no resume entry ("run the same
// command again" made a second upload) and no DELETE ("nothing kept" while the server kept one).
// Deterministic: a proxy holds the server's answer to the creation until the CLI has taken the signal.
import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { jsonEvents, startCli, type CliRun } from '../helpers/cli.js';
import { MiB, startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { stoppedMessage } from '../../src/cli/upload-stop.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** Forwards everything to `target`, but holds the answer to the first POST /uploads until release(). */
async function holdingProxy(target: string) {
  let reached!: () => void;
  const createdOnServer = new Promise<void>((resolve) => (reached = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let holding = false;
  const server: Server = createServer((req, res) => {
    const hold = req.method === 'POST' && req.url === '/uploads' && !holding;
    if (hold) holding = true;
    const upstream = request(new URL(req.url!, target), { method: req.method, headers: req.headers }, (answer) => {
      const body: Buffer[] = [];
      answer.on('data', (d: Buffer) => body.push(d));
      answer.on('end', async () => {
        if (hold) {
          // The server has answered: the upload exists there, chunk 0 stored.
          reached();
          await released;
        }
        const headers = { ...answer.headers };
        delete headers['transfer-encoding'];
        res.writeHead(answer.statusCode!, { ...headers, 'content-length': Buffer.concat(body).length });
        res.end(Buffer.concat(body));
      });
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const close = async () => {
    release();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  return { url, createdOnServer, release, close };
}

async function setUp() {
  const s = await startTestServer();
  cleanups.push(() => s.dispose());
  const proxy = await holdingProxy(s.url);
  cleanups.push(() => proxy.close());
  const dir = await tempDir('ferry-stop-create-');
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'file.bin');
  await writeFile(path, randomBytes(4 * MiB));
  const stateDir = join(dir, 'state');
  return { s, proxy, path, stateDir, env: { FERRY_STATE_DIR: stateDir } };
}

/** Sends SIGINT once the server holds the upload and its answer is held back; releases it once the CLI has taken the signal. */
async function interruptCreation(run: CliRun, proxy: Awaited<ReturnType<typeof holdingProxy>>, release = true) {
  let stderr = '';
  run.child.stderr!.on('data', (d: string) => (stderr += d));
  await proxy.createdOnServer;
  run.child.kill('SIGINT');
  await expect.poll(() => stderr, { timeout: 20_000, interval: 5 }).toMatch(/waiting for the server's answer/);
  if (release) proxy.release();
  return run.done;
}

const created = (s: TestServer) => s.ctx.metrics.get('ferry_uploads_created_total');
const uploading = (s: TestServer) => s.ctx.meta.listDue('uploading', Number.MAX_SAFE_INTEGER, 100);

describe('Ctrl-C while the creation request is in flight', () => {
  it('resumable: records the upload, says so (a "stopped" event with --json), and the same command resumes it', { timeout: 60_000 }, async () => {
    const { s, proxy, path, stateDir, env } = await setUp();
    const args = ['upload', path, '--server', proxy.url, '--chunk-size', '1MiB', '--json'];
    const r = await interruptCreation(startCli(args, env), proxy);
    expect(r.code, r.stderr).toBe(130);
    const [upload] = await uploading(s);
    expect(upload).toBeDefined();
    expect(jsonEvents(r.stdout.split('\n'), 'stopped')).toMatchObject([
      { outcome: 'kept', uploadId: upload!.id, message: 'Stopped. Run the same command again to resume.' },
    ]);
    const entries = JSON.parse(await readFile(join(stateDir, 'uploads.json'), 'utf8')).uploads;
    expect(Object.values(entries).map((e: any) => e.uploadId)).toEqual([upload!.id]);

    const again = await startCli(args, env).done;
    expect(again.code, again.stderr).toBe(0);
    expect(jsonEvents(again.stdout.split('\n'), 'done')).toMatchObject([{ resumed: true, uploadId: upload!.id }]);
    expect(created(s)).toBe(1);
  });

  it('--no-resume: deletes the upload the creation made and says nothing is kept', { timeout: 60_000 }, async () => {
    const { s, proxy, path, env } = await setUp();
    const r = await interruptCreation(startCli(['upload', path, '--server', proxy.url, '--chunk-size', '1MiB', '--no-resume'], env), proxy);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr.trim().split('\n').at(-1)).toBe('stopped; nothing kept (--no-resume)');
    expect(created(s)).toBe(1);
    expect(await uploading(s)).toEqual([]);
    expect(s.ctx.metrics.get('ferry_uploads_aborted_total')).toBe(1);
  });

  it('--no-resume, the answer never comes: says the server may keep a partial upload', { timeout: 60_000 }, async () => {
    const { s, proxy, path, env } = await setUp();
    const r = await interruptCreation(startCli(['upload', path, '--server', proxy.url, '--chunk-size', '1MiB', '--no-resume'], env), proxy, false);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr.trim().split('\n').at(-1)).toBe('stopped; the server may keep a partial upload until it expires');
    expect(r.stderr).not.toMatch(/nothing kept/);
    expect(await uploading(s)).toHaveLength(1);
  });
});

describe('Ctrl-C before anything was sent', () => {
  it('says so, not "run the same command again to resume"', { timeout: 60_000 }, async () => {
    // A server that takes the connection and never answers: the CLI is still asking for capabilities.
    const sockets = new Set<Socket>();
    let connected!: () => void;
    const connection = new Promise<void>((resolve) => (connected = resolve));
    const silent = createTcpServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      connected();
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    });
    const dir = await tempDir('ferry-stop-create-');
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'file.bin');
    await writeFile(path, randomBytes(1024));
    const run = startCli(['upload', path, '--server', `http://127.0.0.1:${(silent.address() as { port: number }).port}`], { FERRY_STATE_DIR: join(dir, 'state') });
    await connection;
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr.trim().split('\n').at(-1)).toBe('stopped before anything was sent');
    expect(r.stderr).not.toMatch(/again to resume/i);
  });
});

describe('the stop messages', () => {
  it('count the files uploaded before in the right number', () => {
    expect(stoppedMessage({ kind: 'removed' }, 1)).toBe('stopped; nothing kept of the unfinished file (--no-resume); the 1 file uploaded before it stays');
    expect(stoppedMessage({ kind: 'removed' }, 2)).toBe('stopped; nothing kept of the unfinished file (--no-resume); the 2 files uploaded before it stay');
  });

  it('name a --no-resume upload that could not be removed by its URL (no local entry knows its id)', () => {
    const kept = { kind: 'kept', uploadId: 'u1', uploadUrl: 'http://example.test/uploads/u1', why: 'timeout' } as const;
    expect(stoppedMessage(kept, 0)).toContain('run ferry abort http://example.test/uploads/u1,');
  });
});
