// `ferry download` as a real process (the built CLI): killed with SIGKILL mid-download and run again,
// stopped with Ctrl-C, against the Ferry server and a plain static server; failures exit non-zero.
import { randomBytes } from 'node:crypto';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, jsonEvents, runCli, startCli } from '../helpers/cli.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { KiB, MiB, startTestServer } from '../helpers/server.js';
import { parseStateForTest } from './engine.js';
import { startStaticServer, storeFile, tempDir } from './support.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

beforeAll(async () => {
  const built = await access(join(cliPath, '../download.js')).then(() => true, () => false);
  if (!built) throw new Error('dist/cli/download.js is missing: run `npx tsc -p tsconfig.build.json` (npm test does it in pretest).');
});

const exists = (p: string) => access(p).then(() => true, () => false);
const size = 8 * MiB;
const chunkSize = 1 * MiB;
const concurrency = 4;
const perConnection = 512 * KiB;
/**
 * Bytes that may cross the link twice after a SIGKILL: the chunks in flight, plus what arrives
 * during one sidecar interval (200 ms) before finished chunks are recorded, plus response headers.
 */
const refetchBound = concurrency * chunkSize + concurrency * perConnection * 0.2 + 64 * KiB;

/** A loopback link of 512 KiB/s per connection (2 MiB/s in all): slow enough to interrupt midway. */
async function throttled(target: string): Promise<FaultProxy> {
  const proxy = await startFaultProxy(target, { bytesPerSecond: perConnection });
  cleanups.push(() => proxy.close());
  return proxy;
}

async function ferryFile() {
  const server = await startTestServer();
  cleanups.push(() => server.dispose());
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  const data = randomBytes(size);
  const { fileUrl } = await storeFile(server.url, data, { chunkSize });
  const proxy = await throttled(server.url);
  return { data, dir, proxy, url: fileUrl.replace(server.url, proxy.url), dest: join(dir, 'out.bin') };
}

/** Resolves once the sidecar records at least `chunks` finished chunks (it is replaced atomically). */
async function sidecarRecords(statePath: string, chunks: number): Promise<void> {
  const count = () => readFile(statePath, 'utf8').then((t) => parseStateForTest(t).done.length, () => 0);
  await expect.poll(count, { timeout: 60_000, interval: 20 }).toBeGreaterThanOrEqual(chunks);
}

const args = (url: string, dest: string) => ['download', url, '-o', dest, '--concurrency', String(concurrency), '--json'];

/** The second run's result line. */
function doneEvent(stdout: string) {
  const done = jsonEvents(stdout.split('\n'), 'done');
  expect(done).toHaveLength(1);
  return done[0];
}

describe('ferry download (CLI)', () => {
  it('killed with SIGKILL mid-download, the same command completes it byte-identical, re-fetching only chunks in flight', async () => {
    const { data, proxy, url, dest } = await ferryFile();
    const first = startCli(args(url, dest));
    await sidecarRecords(`${dest}.part.ferry`, 2);
    first.child.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');
    const recorded = parseStateForTest(await readFile(`${dest}.part.ferry`, 'utf8')).done.length;
    expect(recorded).toBeGreaterThan(0);
    const deliveredFirst = proxy.stats.bytesDown;

    const second = await runCli(args(url, dest));
    expect(second.code, second.stderr).toBe(0);
    const result = doneEvent(second.stdout);
    expect(result).toMatchObject({ resumed: true, verified: 'chunks', bytesFetched: size - recorded * chunkSize });
    expect(Buffer.compare(await readFile(dest), data)).toBe(0);
    expect(await exists(`${dest}.part.ferry`)).toBe(false);
    await expect.poll(() => proxy.stats.open).toBe(0);
    const refetched = proxy.stats.bytesDown - size;
    console.info(`SIGKILL resume: first run delivered ${deliveredFirst} B, sidecar had ${recorded} chunks, re-fetched ${refetched} B`);
    expect(refetched).toBeLessThanOrEqual(refetchBound);
  });

  it('Ctrl-C stops cleanly: exit 130, the sidecar records every finished chunk, and the next run resumes', async () => {
    const { data, url, dest } = await ferryFile();
    const first = startCli(args(url, dest));
    await sidecarRecords(`${dest}.part.ferry`, 2);
    first.child.kill('SIGINT');
    const stopped = await first.done;
    expect(stopped.code).toBe(130);
    const lastProgress = jsonEvents(stopped.stdout.split('\n'), 'progress').at(-1);
    const state = parseStateForTest(await readFile(`${dest}.part.ferry`, 'utf8'));
    // The final flush: every chunk the last progress line counted is in the sidecar.
    expect(state.done.length).toBeGreaterThanOrEqual(lastProgress.chunksDone);
    expect(jsonEvents(stopped.stdout.split('\n'), 'error')).toMatchObject([{ reason: 'aborted', resumable: true }]);

    const second = await runCli(args(url, dest));
    expect(second.code, second.stderr).toBe(0);
    expect(doneEvent(second.stdout)).toMatchObject({ resumed: true, bytesFetched: size - state.done.length * chunkSize });
    expect(Buffer.compare(await readFile(dest), data)).toBe(0);
  });

  it('resumes after SIGKILL against a plain static server; the name comes from Content-Disposition', async () => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const data = randomBytes(size);
    await writeFile(join(dir, 'source.bin'), data);
    const server = await startStaticServer(dir, { contentDisposition: `attachment; filename="fallback.bin"; filename*=UTF-8''na%C3%AFve%20file.bin` });
    cleanups.push(() => server.close());
    const proxy = await throttled(server.url);
    const outDir = join(dir, 'out') + '/';
    await mkdir(outDir);
    const cmd = ['download', `${proxy.url}/source.bin`, '-o', outDir, '--chunk-size', '1MiB', '--concurrency', String(concurrency), '--json'];
    const dest = join(outDir, 'naïve file.bin');

    const first = startCli(cmd);
    await sidecarRecords(`${dest}.part.ferry`, 2);
    first.child.kill('SIGKILL');
    await first.done;
    const recorded = parseStateForTest(await readFile(`${dest}.part.ferry`, 'utf8'));
    expect(recorded).toMatchObject({ mode: 'ranges', chunkSize });

    const second = await runCli(cmd);
    expect(second.code, second.stderr).toBe(0);
    expect(doneEvent(second.stdout)).toMatchObject({ path: dest, resumed: true, verified: 'none', bytesFetched: size - recorded.done.length * chunkSize });
    expect(jsonEvents(second.stdout.split('\n'), 'note').some((n) => n.warning && /not verified end-to-end/.test(n.message))).toBe(true);
    expect(Buffer.compare(await readFile(dest), data)).toBe(0);
    await expect.poll(() => proxy.stats.open).toBe(0);
    expect(proxy.stats.bytesDown - size).toBeLessThanOrEqual(refetchBound);
  });

  it('--timeout: a range whose connection goes silent is continued on a new connection after that many seconds (the default waits 30 s)', async () => {
    const server = await startTestServer();
    cleanups.push(() => server.dispose());
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const data = randomBytes(4 * MiB);
    const { fileUrl } = await storeFile(server.url, data, { chunkSize });
    // The first connection that carries more than the manifest freezes for ten minutes.
    const proxy = await startFaultProxy(server.url, { stallRate: 1, stallAfterBytes: [256 * KiB, 256 * KiB], stallDirection: 'down', stallMs: 600_000, maxFaults: 1 });
    cleanups.push(() => proxy.close());
    const dest = join(dir, 'out.bin');
    const run = await runCli(['download', fileUrl.replace(server.url, proxy.url), '-o', dest, '--timeout', '1', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(proxy.stats.faults.stall).toBe(1);
    expect((await readFile(dest)).equals(data)).toBe(true);
  }, 20_000);

  it('exits non-zero with a clear message when the download cannot be done', async () => {
    const server = await startTestServer();
    cleanups.push(() => server.dispose());
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const missing = await runCli(['download', `${server.url}/files/nope`, '-o', join(dir, 'x')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/failed: .*(404|No file)/);
    const bad = await runCli(['download', 'ftp://example.com/x', '-o', join(dir, 'y')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/Only http and https/);
    expect(await exists(join(dir, 'x.part'))).toBe(false);
  });

  it('downloads a 0-byte file', async () => {
    const server = await startTestServer();
    cleanups.push(() => server.dispose());
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const { fileUrl } = await storeFile(server.url, Buffer.alloc(0), { chunkSize: 64 * KiB, name: 'empty.txt' });
    const run = await runCli(['download', fileUrl, '-o', dir]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe(join(dir, 'empty.txt'));
    expect((await readFile(join(dir, 'empty.txt'))).length).toBe(0);
  });
});
