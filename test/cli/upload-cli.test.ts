// `ferry upload` as a real process against a real server: faults, kills, restarts, concurrency.
import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startCli, jsonEvents } from '../helpers/cli.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { MiB, spawnServer, startTestServer, tempDir, type TestServer } from '../helpers/server.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function server(config = {}): Promise<TestServer> {
  const s = await startTestServer({ defaultChunkSize: 1 * MiB, ...config });
  cleanups.push(() => s.dispose());
  return s;
}

async function sourceFile(size: number): Promise<{ path: string; sha: string; env: NodeJS.ProcessEnv }> {
  const dir = await tempDir('ferry-cli-');
  const path = join(dir, 'source.bin');
  const hash = createHash('sha256');
  // Written in pieces so large test files never sit in memory whole.
  const piece = 4 * MiB;
  const { open } = await import('node:fs/promises');
  const fh = await open(path, 'w');
  for (let at = 0; at < size; at += piece) {
    const bytes = randomBytes(Math.min(piece, size - at));
    hash.update(bytes);
    await fh.write(bytes);
  }
  await fh.close();
  return { path, sha: hash.digest('hex'), env: { FERRY_STATE_DIR: join(dir, 'state') } };
}

async function sha256Url(url: string): Promise<string> {
  const res = await fetch(url);
  const hash = createHash('sha256');
  for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) hash.update(part);
  return hash.digest('hex');
}

describe('ferry upload', () => {
  it('prints the download URL; the file is byte-identical; status shows it complete', async () => {
    const s = await server();
    const src = await sourceFile(5 * MiB + 7);
    const r = await runCli(['upload', src.path, '--server', s.url], src.env);
    expect(r.code, r.stderr).toBe(0);
    const url = r.stdout.trim();
    expect(url).toMatch(/\/files\//);
    expect(await sha256Url(url)).toBe(src.sha);
    const uploadId = s.ctx.metrics.get('ferry_uploads_completed_total') === 1 ? (await s.ctx.meta.listFiles({ limit: 1 }))[0]!.uploadId : '';
    const st = await runCli(['status', uploadId, '--server', s.url]);
    expect(st.code).toBe(0);
    expect(st.stdout).toMatch(/state\s+complete/);
    expect(st.stdout).toContain(url);
  });

  it('256 MiB with --concurrency auto through a proxy that cuts connections: completes byte-identical', async () => {
    const s = await server();
    const proxy = await startFaultProxy(s.url, { seed: 7, cutRate: 0.3, cutAfterBytes: [64 * 1024, 3 * MiB], cutDirection: 'up', maxFaults: 12 });
    cleanups.push(() => proxy.close());
    const src = await sourceFile(256 * MiB);
    const r = await runCli(['upload', src.path, '--server', proxy.url, '--concurrency', 'auto', '--json'], src.env);
    expect(r.code, r.stderr).toBe(0);
    expect(proxy.stats.faults.cut).toBeGreaterThan(0);
    const done = jsonEvents(r.stdout.split('\n'), 'done')[0];
    expect(await sha256Url(new URL(new URL(done.fileUrl).pathname, s.url).href)).toBe(src.sha);
    expect(s.ctx.metrics.get('ferry_chunk_bytes_stored_total')).toBe(256 * MiB);
  });

  it('killed with SIGKILL mid-upload, the same command resumes and re-sends at most the chunks in flight', async () => {
    const s = await server();
    const src = await sourceFile(48 * MiB);
    const chunk = 1 * MiB;
    const inFlight = 4;
    const args = ['upload', src.path, '--server', s.url, '--concurrency', String(inFlight), '--chunk-size', '1MiB', '--json'];
    const first = startCli(args, src.env);
    await expect.poll(() => s.ctx.metrics.get('ferry_chunks_stored_total'), { timeout: 60_000, interval: 5 }).toBeGreaterThanOrEqual(12);
    first.child.kill('SIGKILL');
    await first.done;
    const storedBefore = s.ctx.metrics.get('ferry_chunk_bytes_stored_total');
    expect(storedBefore).toBeLessThan(48 * MiB);

    const second = await runCli(args, src.env);
    expect(second.code, second.stderr).toBe(0);
    const done = jsonEvents(second.stdout.split('\n'), 'done')[0];
    expect(done.resumed).toBe(true);
    expect(await sha256Url(done.fileUrl)).toBe(src.sha);
    // Every byte the server read beyond the file itself was a chunk cut off by the kill.
    const resent = s.ctx.metrics.get('ferry_chunk_bytes_received_total') - 48 * MiB;
    expect(resent).toBeLessThanOrEqual(inFlight * chunk);
    expect(s.ctx.metrics.get('ferry_chunk_bytes_stored_total')).toBe(48 * MiB);
  });

  it('Ctrl-C stops with exit code 130 and leaves the upload resumable', async () => {
    const s = await server();
    const proxy = await startFaultProxy(s.url, { bytesPerSecond: 16 * MiB });
    cleanups.push(() => proxy.close());
    const src = await sourceFile(32 * MiB);
    const args = ['upload', src.path, '--server', proxy.url, '--concurrency', '2', '--json'];
    const first = startCli(args, src.env);
    await expect.poll(() => s.ctx.metrics.get('ferry_chunks_stored_total'), { timeout: 60_000, interval: 5 }).toBeGreaterThanOrEqual(3);
    first.child.kill('SIGINT');
    const stopped = await first.done;
    expect(stopped.code).toBe(130);
    expect(stopped.stderr).toMatch(/Run the same command again to resume/);
    proxy.setPlan({});
    const second = await runCli(args, src.env);
    expect(second.code, second.stderr).toBe(0);
    const done = jsonEvents(second.stdout.split('\n'), 'done')[0];
    expect(done.resumed).toBe(true);
    expect(await sha256Url(done.fileUrl)).toBe(src.sha);
  });

  it('the server killed and restarted mid-upload: the client waits, retries and completes', async () => {
    const dataDir = await tempDir();
    const first = await spawnServer(['--data-dir', dataDir, '--min-chunk-size', '64KiB', '--default-chunk-size', '1MiB']);
    const port = new URL(first.url).port;
    cleanups.push(() => first.kill());
    // A throttled path keeps the upload going long enough to kill the server in the middle of it.
    const proxy = await startFaultProxy(first.url, { bytesPerSecond: 16 * MiB });
    cleanups.push(() => proxy.close());
    const src = await sourceFile(32 * MiB);
    const run = startCli(['upload', src.path, '--server', proxy.url, '--concurrency', '2', '--json'], src.env);
    await expect.poll(() => jsonEvents(run.lines, 'progress').some((p) => p.chunksDone >= 4), { timeout: 60_000, interval: 5 }).toBe(true);
    await first.kill();
    // The client notices and retries while the server is gone.
    await expect.poll(() => jsonEvents(run.lines, 'note').some((n) => /retrying/.test(n.message)), { timeout: 60_000, interval: 5 }).toBe(true);
    const second = await spawnServer(['--data-dir', dataDir, '--port', port, '--min-chunk-size', '64KiB', '--default-chunk-size', '1MiB']);
    cleanups.push(() => second.kill());
    proxy.setPlan({});
    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    const done = jsonEvents(r.stdout.split('\n'), 'done')[0];
    expect(await sha256Url(done.fileUrl)).toBe(src.sha);
  });

  it('a proxy that flips a bit in one chunk: the chunk is rejected, re-sent, and the file is correct', async () => {
    const s = await server();
    const proxy = await startFaultProxy(s.url, { seed: 3, flipRate: 1, maxFlips: 1, flipWindow: [200_000, 900_000], flipDirection: 'up' });
    cleanups.push(() => proxy.close());
    const src = await sourceFile(8 * MiB);
    const r = await runCli(['upload', src.path, '--server', proxy.url, '--concurrency', '1'], src.env);
    expect(r.code, r.stderr).toBe(0);
    expect(proxy.stats.faults.flip).toBe(1);
    expect(s.ctx.metrics.get('ferry_chunks_failed_total', { code: 'digest-mismatch' })).toBe(1);
    expect(await sha256Url(new URL(new URL(r.stdout.trim()).pathname, s.url).href)).toBe(src.sha);
  });

  it('--timeout: a chunk whose connection goes silent is sent again after that many seconds (the default would wait 30 s or more)', async () => {
    const s = await server();
    const src = await sourceFile(4 * MiB);
    // The first connection that carries more than the create request freezes for ten minutes.
    const proxy = await startFaultProxy(s.url, { stallRate: 1, stallAfterBytes: [1.5 * MiB, 1.5 * MiB], stallDirection: 'up', stallMs: 600_000, maxFaults: 1 });
    cleanups.push(() => proxy.close());
    const r = await runCli(['upload', src.path, '--server', proxy.url, '--concurrency', '1', '--timeout', '1', '--json'], src.env);
    expect(r.code, r.stderr).toBe(0);
    expect(proxy.stats.faults.stall).toBe(1);
    const done = jsonEvents(r.stdout.split('\n'), 'done')[0];
    expect(await sha256Url(done.fileUrl.replace(proxy.url, s.url))).toBe(src.sha);
  }, 20_000);

  it('--concurrency 1 sends chunks strictly one after another; auto has more than one in flight', async () => {
    const one = await server();
    const src = await sourceFile(24 * MiB);
    expect((await runCli(['upload', src.path, '--server', one.url, '--concurrency', '1'], src.env)).code).toBe(0);
    expect(one.ctx.chunkWrites.peak).toBe(1);

    const auto = await server();
    expect((await runCli(['upload', src.path, '--server', auto.url, '--concurrency', 'auto', '--no-resume'], src.env)).code).toBe(0);
    expect(auto.ctx.chunkWrites.peak).toBeGreaterThan(1);
  });

  it('a failure exits non-zero with the server\'s problem and says how to resume', async () => {
    const s = await server({ maxFileSize: 1 * MiB });
    const src = await sourceFile(2 * MiB);
    const r = await runCli(['upload', src.path, '--server', s.url], src.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/limit of 1048576/);
    const unreachable = await runCli(['status', 'x'.repeat(24), '--server', 'http://127.0.0.1:9']);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/^ferry status: cannot reach http:\/\/127\.0\.0\.1:9: /);
  });
});
