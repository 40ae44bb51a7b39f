// `ferry download` never replaces an existing file unless told to (--force), and refusing does not get
// in the way of resuming: `<out>.part` + `<out>.part.ferry` are its own state, not a file in the way.
// The built CLI as a real process against a real Ferry server.
import { randomBytes } from 'node:crypto';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseStateForTest } from '../download/engine.js';
import { storeFile, tempDir } from '../download/support.js';
import { cliPath, jsonEvents, runCli, startCli } from '../helpers/cli.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { KiB, MiB, startTestServer } from '../helpers/server.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

beforeAll(async () => {
  const built = await access(join(cliPath, '../download.js')).then(() => true, () => false);
  if (!built) throw new Error('dist/cli/download.js is missing: run `npm run build` first.');
});

const exists = (p: string) => access(p).then(() => true, () => false);
const chunkSize = 256 * KiB;

/** A file on a real Ferry server, and a fresh directory to download into. */
async function stored(size: number, name = 'payload.bin') {
  const server = await startTestServer();
  cleanups.push(() => server.dispose());
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  const data = randomBytes(size);
  const { fileUrl } = await storeFile(server.url, data, { chunkSize, name });
  return { server, data, dir, url: fileUrl };
}

const oldBytes = Buffer.from('precious local data, not to be lost\n');

describe('ferry download onto an existing file', () => {
  it('is refused with one line naming --force, a non-zero exit, the file untouched and nothing fetched', async () => {
    const { dir, url, server } = await stored(1 * MiB);
    const dest = join(dir, 'out.bin');
    await writeFile(dest, oldBytes);
    const served = server.ctx.metrics.get('ferry_file_bytes_served_total');

    const r = await runCli(['download', url, '-o', dest]);
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBeNull();
    const lines = r.stderr.trim().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toContain(dest);
    expect(lines[0]).toMatch(/already exists/);
    expect(lines[0]).toContain('--force');
    expect(r.stdout).toBe('');
    expect(Buffer.compare(await readFile(dest), oldBytes)).toBe(0);
    expect(await exists(`${dest}.part`)).toBe(false);
    expect(await exists(`${dest}.part.ferry`)).toBe(false);
    expect(server.ctx.metrics.get('ferry_file_bytes_served_total')).toBe(served);
  });

  it('is refused when the name comes from the server (-o a directory), and reported as an error event with --json', async () => {
    const { dir, url } = await stored(512 * KiB, 'named.bin');
    const outDir = join(dir, 'out');
    await mkdir(outDir);
    const dest = join(outDir, 'named.bin');
    await writeFile(dest, oldBytes);

    const r = await runCli(['download', url, '-o', outDir + '/', '--json']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('--force');
    const lines = r.stdout.split('\n');
    expect(jsonEvents(lines, 'error')).toMatchObject([{ reason: 'exists', path: dest, resumable: false }]);
    expect(jsonEvents(lines, 'done')).toHaveLength(0);
    expect(Buffer.compare(await readFile(dest), oldBytes)).toBe(0);
  });

  it('--force replaces it with the downloaded bytes', async () => {
    const { data, dir, url } = await stored(1 * MiB + 17);
    const dest = join(dir, 'out.bin');
    await writeFile(dest, oldBytes);

    const r = await runCli(['download', url, '-o', dest, '--force']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(dest);
    expect(Buffer.compare(await readFile(dest), data)).toBe(0);
    expect(await exists(`${dest}.part`)).toBe(false);
    expect(await exists(`${dest}.part.ferry`)).toBe(false);
  });

  it('a fresh destination is downloaded as before; running the same command again is then refused', async () => {
    const { data, dir, url } = await stored(700 * KiB);
    const dest = join(dir, 'out.bin');
    const first = await runCli(['download', url, '-o', dest]);
    expect(first.code, first.stderr).toBe(0);
    expect(Buffer.compare(await readFile(dest), data)).toBe(0);
    const again = await runCli(['download', url, '-o', dest]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('--force');
    expect(Buffer.compare(await readFile(dest), data)).toBe(0);
  });
});

describe('an interrupted download', () => {
  /** Slow enough (256 KiB/s per connection) to kill the CLI midway. */
  async function interrupted() {
    const { data, dir, url, server } = await stored(4 * MiB);
    const proxy = await startFaultProxy(server.url, { bytesPerSecond: 256 * KiB });
    cleanups.push(() => proxy.close());
    const dest = join(dir, 'out.bin');
    const cmd = ['download', url.replace(server.url, proxy.url), '-o', dest, '--concurrency', '2', '--json'];
    const first = startCli(cmd);
    const recorded = () => readFile(`${dest}.part.ferry`, 'utf8').then((t) => parseStateForTest(t).done.length, () => 0);
    await expect.poll(recorded, { timeout: 60_000, interval: 20 }).toBeGreaterThanOrEqual(2);
    first.child.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');
    expect(await exists(dest)).toBe(false);
    proxy.setPlan({});
    return { data, dest, cmd };
  }

  it('still resumes: its own .part files are not an existing output', async () => {
    const { data, dest, cmd } = await interrupted();
    const second = await runCli(cmd);
    expect(second.code, second.stderr).toBe(0);
    const done = jsonEvents(second.stdout.split('\n'), 'done');
    expect(done).toHaveLength(1);
    expect(done[0]).toMatchObject({ resumed: true });
    expect(Buffer.compare(await readFile(dest), data)).toBe(0);
    expect(await exists(`${dest}.part.ferry`)).toBe(false);
  });

  it('whose output name was taken meanwhile is refused, keeping its .part files; --force then resumes it', async () => {
    const { data, dest, cmd } = await interrupted();
    await writeFile(dest, oldBytes);
    const refused = await runCli(cmd);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('--force');
    expect(Buffer.compare(await readFile(dest), oldBytes)).toBe(0);
    expect(await exists(`${dest}.part`)).toBe(true);
    expect(await exists(`${dest}.part.ferry`)).toBe(true);

    const forced = await runCli([...cmd, '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(jsonEvents(forced.stdout.split('\n'), 'done')).toMatchObject([{ resumed: true }]);
    expect(Buffer.compare(await readFile(dest), data)).toBe(0);
  });
});
