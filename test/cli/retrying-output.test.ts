// While the server is not answering yet, the CLI says that it is trying: a
// "connecting to host:port… retrying in N s (why)" line on stderr, redrawn in place on a terminal.
// The server is down first (a gateway in front of it answers 503, as one does while what is behind
// it restarts) and is started only once that line has been seen; the transfer then completes.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, runCli, startCli } from '../helpers/cli.js';
import { freePort } from '../helpers/ports.js';
import { MiB, spawnServer, tempDir, type ChildServer } from '../helpers/server.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

let dir: string;
let cases = 0;
beforeAll(async () => {
  dir = await tempDir('ferry-retrying-');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

interface Gateway {
  url: string;
  /** 503 answers given so far (one per connection while the server is down). */
  refused: number;
  /** From now on, connections go through to `port`. */
  up(port: number): void;
}

/** A TCP gateway on loopback: 503 (Retry-After: 1) while there is no server behind it, then a pipe to it. */
async function gateway(): Promise<Gateway> {
  let target: number | null = null;
  const sockets = new Set<net.Socket>();
  const g = { url: '', refused: 0, up: (port: number) => void (target = port) };
  const server = net.createServer((client) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    if (target === null) {
      g.refused++;
      client.resume();
      client.end('HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      return;
    }
    const upstream = net.connect(target, '127.0.0.1');
    sockets.add(upstream);
    upstream.once('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  g.url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  cleanups.push(
    () =>
      new Promise<void>((res) => {
        for (const s of sockets) s.destroy();
        server.close(() => res());
      }),
  );
  return g;
}

/** A file stored on a server that is then stopped: its data directory and the file's id. */
async function storedThenDown(data: Buffer) {
  const at = join(dir, `case-${++cases}`);
  const dataDir = join(at, 'data');
  await mkdir(at);
  const first = await spawnServer(['--data-dir', dataDir]);
  const src = join(at, 'payload.bin');
  await writeFile(src, data);
  const up = await runCli(['upload', src, '--server', first.url], { FERRY_STATE_DIR: join(dataDir, 'client') });
  await first.kill();
  expect(up.code, up.stderr).toBe(0);
  return { dataDir, fileId: new URL(up.stdout.trim()).pathname.split('/').pop()! };
}

async function serverBehind(g: Gateway, dataDir: string): Promise<ChildServer> {
  const port = await freePort();
  const s = await spawnServer(['--data-dir', dataDir, '--port', String(port)]);
  cleanups.push(() => s.kill());
  g.up(port);
  return s;
}

const connecting = (g: Gateway) => new RegExp(`connecting to ${new URL(g.url).host.replaceAll('.', '\\.')}… retrying in \\d+(\\.\\d)? s \\(([^)]+)\\)`);

describe('a server that is not answering yet', () => {
  it('download: a "connecting… retrying" line on stderr, then the file once the server is up', async () => {
    const data = randomBytes(3 * MiB + 11);
    const { dataDir, fileId } = await storedThenDown(data);
    const g = await gateway();
    const out = join(dir, `out-${fileId}.bin`);
    const run = startCli(['download', `${g.url}/files/${fileId}`, '-o', out]);
    let stderr = '';
    run.child.stderr!.on('data', (d: string) => (stderr += d));
    await expect.poll(() => connecting(g).exec(stderr)?.[2], { timeout: 30_000, interval: 10 }).toBe('HTTP 503');
    // Not a wall of lines: one per retry, each a whole line.
    expect(stderr.split('\n').filter((l) => l !== '').every((l) => connecting(g).test(l))).toBe(true);
    await serverBehind(g, dataDir);
    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    expect(sha(await readFile(out))).toBe(sha(data));
  });

  it('upload: the same line while creating the upload, then its URL', async () => {
    const g = await gateway();
    const dataDir = join(dir, 'data-upload');
    const data = randomBytes(300_000);
    const src = join(dir, 'up.bin');
    await writeFile(src, data);
    const run = startCli(['upload', src, '--server', g.url], { FERRY_STATE_DIR: join(dir, 'state-upload') });
    let stderr = '';
    run.child.stderr!.on('data', (d: string) => (stderr += d));
    // The gateway does not read the request: the client may see the 503 or the connection going.
    await expect.poll(() => connecting(g).test(stderr), { timeout: 30_000, interval: 10 }).toBe(true);
    expect(stderr).toMatch(/^.*up\.bin: connecting to /m);
    await serverBehind(g, dataDir);
    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    const body = new Uint8Array(await (await fetch(r.stdout.trim())).arrayBuffer());
    expect(sha(body)).toBe(sha(data));
  });

  const hasTmux = spawnSync('tmux', ['-V']).status === 0;
  if (!hasTmux && process.env.CI === 'true') throw new Error('tmux is required in CI for the terminal tests (.ci/run installs it)');
  it.skipIf(!hasTmux)('on a terminal the line is redrawn in place: one row however many retries', async () => {
    const data = randomBytes(1 * MiB);
    const { dataDir, fileId } = await storedThenDown(data);
    const g = await gateway();
    const cwd = join(dir, `tty-${fileId}`);
    await mkdir(cwd);
    const socket = `ferry-retry-${process.pid}`;
    cleanups.push(() => {
      spawnSync('tmux', ['-L', socket, 'kill-server']);
      // tmux leaves its socket file behind.
      rmSync(join(process.env.TMUX_TMPDIR ?? '/tmp', `tmux-${process.getuid!()}`, socket), { force: true });
    });
    const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
    // -o: the download's own probe reports its retries (a probe for the file name alone does not, yet).
    const command = `cd ${q(cwd)}; ${q(process.execPath)} ${q(cliPath)} download ${q(`${g.url}/files/${fileId}`)} -o payload.bin; echo "[exit $?]"; exec sleep 300`;
    expect(spawnSync('tmux', ['-L', socket, 'new-session', '-d', '-x', '80', '-y', '24', '-s', 'r', `sh -c ${q(command)}`]).status).toBe(0);
    const rows = () =>
      spawnSync('tmux', ['-L', socket, 'capture-pane', '-p', '-J', '-t', 'r'], { encoding: 'utf8' })
        .stdout.split('\n')
        .map((l) => l.trimEnd())
        .filter((l) => l !== '');
    // Three refusals: the line has been drawn at least twice.
    await expect.poll(() => g.refused, { timeout: 30_000, interval: 10 }).toBeGreaterThanOrEqual(3);
    await expect.poll(() => rows().filter((l) => connecting(g).test(l)).length, { timeout: 10_000, interval: 10 }).toBe(1);
    expect(rows()).toHaveLength(1);
    expect([...rows()[0]!].length).toBeLessThan(80);
    await serverBehind(g, dataDir);
    await expect.poll(() => rows().at(-1), { timeout: 30_000, interval: 20 }).toBe('[exit 0]');
    // The waiting line is gone; what is left is the result.
    expect(rows().some((l) => connecting(g).test(l))).toBe(false);
    expect(rows().at(-2)).toBe(`payload.bin ← ${g.url}/files/${fileId}`);
  });
});
