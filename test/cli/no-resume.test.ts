// `ferry upload --no-resume` stopped by Ctrl-C or SIGTERM: such an upload is not recorded, so nothing
// could continue it. The CLI deletes it on the server and says so, instead of "run the same command
// again to resume" (which would start another upload and leave this one behind).
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { jsonEvents, startCli } from '../helpers/cli.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { MiB, startTestServer, tempDir, type TestServer } from '../helpers/server.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setUp() {
  const s = await startTestServer({ defaultChunkSize: 1 * MiB });
  cleanups.push(() => s.dispose());
  // Slow enough that the upload is still going when the signal comes.
  const proxy = await startFaultProxy(s.url, { bytesPerSecond: 8 * MiB });
  cleanups.push(() => proxy.close());
  const dir = await tempDir('ferry-no-resume-');
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'big.bin');
  await writeFile(path, randomBytes(64 * MiB));
  return { s, proxy, path, env: { FERRY_STATE_DIR: join(dir, 'state') } };
}

/** Uploads the server still has in state 'uploading' (due for expiry at the end of time: all of them). */
const uploading = (s: TestServer) => s.ctx.meta.listDue('uploading', Number.MAX_SAFE_INTEGER, 100);

/** The server's uploads neither finished nor ended (its counters, as /metrics shows them). */
const openUploads = (s: TestServer) =>
  s.ctx.metrics.get('ferry_uploads_created_total') -
  (['ferry_uploads_completed_total', 'ferry_uploads_aborted_total', 'ferry_uploads_expired_total', 'ferry_uploads_failed_total'] as const).reduce(
    (n, ended) => n + s.ctx.metrics.get(ended),
    0,
  );

describe('ferry upload --no-resume, stopped', () => {
  it('Ctrl-C: "stopped; nothing kept (--no-resume)", exit 130, and the server has no upload left in progress', async () => {
    const { s, proxy, path, env } = await setUp();
    const run = startCli(['upload', path, '--server', proxy.url, '--no-resume', '--concurrency', '2'], env);
    let stderr = '';
    run.child.stderr!.on('data', (d: string) => (stderr += d));
    // Once it is under way: the upload exists and chunks are arriving.
    await expect.poll(() => /upload (\S+) created/.exec(stderr)?.[1], { timeout: 60_000, interval: 5 }).toBeTruthy();
    await expect.poll(() => s.ctx.metrics.get('ferry_chunks_stored_total'), { timeout: 60_000, interval: 5 }).toBeGreaterThanOrEqual(2);
    const uploadId = /upload (\S+) created/.exec(stderr)![1]!;
    expect(await uploading(s)).toHaveLength(1);
    expect(openUploads(s)).toBe(1);

    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code).toBe(130);
    expect(r.stderr.trim().split('\n').at(-1)).toBe('stopped; nothing kept (--no-resume)');
    expect(r.stderr).not.toMatch(/again to resume/i);
    expect(r.stdout).toBe('');
    // Nothing left behind: no upload in progress, this one aborted (its chunks freed), no file made.
    expect(await uploading(s)).toEqual([]);
    expect(openUploads(s)).toBe(0);
    expect((await s.ctx.meta.getUpload(uploadId))?.state).toBe('aborted');
    const status = await (await fetch(`${s.url}/uploads/${uploadId}`)).json();
    expect(status.state).toBe('aborted');
    expect(s.ctx.metrics.get('ferry_uploads_completed_total')).toBe(0);
  });

  it('SIGTERM with --json: exit 143, a "stopped" event saying nothing was kept, no upload left', async () => {
    const { s, proxy, path, env } = await setUp();
    const run = startCli(['upload', path, '--server', proxy.url, '--no-resume', '--concurrency', '2', '--json'], env);
    await expect.poll(() => jsonEvents(run.lines, 'progress').some((p) => p.chunksDone >= 2), { timeout: 60_000, interval: 5 }).toBe(true);
    run.child.kill('SIGTERM');
    const r = await run.done;
    expect(r.code).toBe(143);
    const stopped = jsonEvents(r.stdout.split('\n'), 'stopped');
    expect(stopped).toMatchObject([{ outcome: 'removed', message: 'stopped; nothing kept (--no-resume)' }]);
    expect(jsonEvents(r.stdout.split('\n'), 'done')).toEqual([]);
    expect(await uploading(s)).toEqual([]);
    expect(s.ctx.metrics.get('ferry_uploads_aborted_total')).toBe(1);
  });
});
