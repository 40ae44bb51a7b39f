// `--json` event streams of the built CLI (a real process against a real Ferry server): the 'starting'
// progress line reports the transfer before any byte went out (bytesSent 0; a resumed upload shows what
// the server already had in bytesAcked), and the end is reported once: one progress line in phase
// 'done' and one 'done' event, for uploads and downloads.
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { storeFile, tempDir } from '../download/support.js';
import { jsonEvents, runCli, startCli } from '../helpers/cli.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { KiB, MiB, startTestServer } from '../helpers/server.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function server() {
  const s = await startTestServer({ defaultChunkSize: 1 * MiB });
  cleanups.push(() => s.dispose());
  return s;
}

async function sourceFile(size: number) {
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  const data = randomBytes(size);
  const path = join(dir, 'source.bin');
  await writeFile(path, data);
  return { dir, data, path, env: { FERRY_STATE_DIR: join(dir, 'state') } };
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Every --json line parses; the events of one stream, in order. */
function events(stdout: string): any[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
}

/** The shape every successful stream has: one 'starting' line first, one 'done' progress line, one 'done' event last. */
function expectOneStartAndOneEnd(all: any[], kind: 'upload' | 'download') {
  const progress = all.filter((e) => e.event === 'progress');
  expect(progress.length).toBeGreaterThan(0);
  expect(progress.every((p) => p.kind === kind)).toBe(true);
  const starting = progress.filter((p) => p.phase === 'starting');
  expect(starting).toHaveLength(1);
  expect(progress[0]).toBe(starting[0]);
  const finished = progress.filter((p) => p.phase === 'done');
  expect(finished).toHaveLength(1);
  expect(finished[0]).toMatchObject({ bytesAcked: finished[0].totalBytes, bytesInFlight: 0, inFlight: 0 });
  const done = all.filter((e) => e.event === 'done');
  expect(done).toHaveLength(1);
  expect(all.at(-1)).toBe(done[0]);
  expect(all.filter((e) => e.event === 'error')).toHaveLength(0);
  return { starting: starting[0], done: done[0] };
}

describe('--json events', () => {
  for (const [name, size] of [
    ['a one-chunk upload', 300 * KiB],
    ['a many-chunk upload', 5 * MiB + 3],
  ] as const) {
    it(`${name}: 'starting' has bytesSent 0 (chunk 0 goes out with the creation), one 'done'`, async () => {
      const s = await server();
      const src = await sourceFile(size);
      const r = await runCli(['upload', src.path, '--server', s.url, '--json'], src.env);
      expect(r.code, r.stderr).toBe(0);
      const { starting, done } = expectOneStartAndOneEnd(events(r.stdout), 'upload');
      expect(starting).toMatchObject({ totalBytes: size, bytesSent: 0, bytesInFlight: 0, bytesAcked: 0, chunksDone: 0, inFlight: 0 });
      expect(done).toMatchObject({ size, resumed: false, bytesSent: size });
      const body = new Uint8Array(await (await fetch(done.fileUrl)).arrayBuffer());
      expect(sha(body)).toBe(sha(src.data));
    });
  }

  it("a resumed upload: 'starting' has bytesSent 0 and bytesAcked what the server already had, one 'done'", async () => {
    const s = await server();
    const proxy = await startFaultProxy(s.url, { bytesPerSecond: 4 * MiB });
    cleanups.push(() => proxy.close());
    const size = 24 * MiB;
    const src = await sourceFile(size);
    const args = ['upload', src.path, '--server', proxy.url, '--concurrency', '2', '--chunk-size', '1MiB', '--json'];
    const first = startCli(args, src.env);
    await expect.poll(() => s.ctx.metrics.get('ferry_chunks_stored_total'), { timeout: 60_000, interval: 5 }).toBeGreaterThanOrEqual(3);
    first.child.kill('SIGKILL');
    await first.done;
    proxy.setPlan({});

    const second = await runCli(args, src.env);
    expect(second.code, second.stderr).toBe(0);
    const { starting, done } = expectOneStartAndOneEnd(events(second.stdout), 'upload');
    expect(done.resumed).toBe(true);
    expect(starting.bytesSent).toBe(0);
    expect(starting.bytesAcked).toBeGreaterThanOrEqual(3 * MiB);
    expect(starting.bytesAcked).toBeLessThan(size);
    expect(starting.chunksDone).toBe(starting.bytesAcked / MiB);
  });

  it("a download: 'starting' has bytesSent 0, one 'done' progress line and one 'done' event", async () => {
    const s = await server();
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const data = randomBytes(3 * MiB + 5);
    const { fileUrl } = await storeFile(s.url, data, { chunkSize: 1 * MiB });
    const dest = join(dir, 'out.bin');
    const r = await runCli(['download', fileUrl, '-o', dest, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const { starting, done } = expectOneStartAndOneEnd(events(r.stdout), 'download');
    expect(starting).toMatchObject({ totalBytes: data.length, bytesSent: 0, bytesAcked: 0 });
    expect(done).toMatchObject({ path: dest, size: data.length });
    expect(sha(await readFile(dest))).toBe(sha(data));
  });

  it('without --json the end is reported once too (no repeated 100% line)', async () => {
    const s = await server();
    const src = await sourceFile(2 * MiB);
    const r = await runCli(['upload', src.path, '--server', s.url], src.env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(/\/files\//);
    expect(r.stderr.split('\n').filter((l) => l.includes('100.0%'))).toHaveLength(1);
    expect(r.stderr.split('\n').filter((l) => /: done: /.test(l))).toHaveLength(1);
  });
});
