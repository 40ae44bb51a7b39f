// `ferry upload dir/`: every regular file under the directory (recursively, symbolic links not
// followed, sorted by relative path), each stored under its base name with its relative path in
// metadata.relativePath and shown by it; one summary line at the end. Mixed with file arguments; an
// empty directory fails with a line saying so.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { jsonEvents, runCli } from '../helpers/cli.js';
import { MiB, startTestServer, tempDir, type TestServer } from '../helpers/server.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function setUp() {
  const s = await startTestServer({ defaultChunkSize: 1 * MiB });
  cleanups.push(() => s.dispose());
  const dir = await tempDir('ferry-dir-');
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return { s, dir, env: { FERRY_STATE_DIR: join(dir, '.state') } };
}

/** tree/: four files at three depths, two symbolic links, an empty subdirectory. */
async function tree(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>([
    ['z.txt', randomBytes(1000)],
    ['b/d/e.txt', randomBytes(2 * MiB + 3)],
    ['a.txt', randomBytes(10)],
    ['b/c.bin', randomBytes(300_000)],
  ]);
  for (const [rel, data] of files) {
    await mkdir(join(dir, 'tree', rel, '..'), { recursive: true });
    await writeFile(join(dir, 'tree', rel), data);
  }
  await mkdir(join(dir, 'tree', 'empty'));
  await symlink(join(dir, 'tree', 'a.txt'), join(dir, 'tree', 'link-to-a'));
  await symlink(join(dir, 'tree', 'b'), join(dir, 'tree', 'link-to-b'));
  return files;
}

async function fileOf(s: TestServer, url: string) {
  const id = new URL(url).pathname.split('/').pop()!;
  return s.ctx.meta.getFile(id);
}

describe('ferry upload <directory>', () => {
  it('uploads every file under it, sorted, by relative path; links are not followed; a summary line ends it', async () => {
    const { s, dir, env } = await setUp();
    const files = await tree(dir);
    const r = await runCli(['upload', join(dir, 'tree') + '/', '--server', s.url], env);
    expect(r.code, r.stderr).toBe(0);

    // Piped stdout: one "relative path<TAB>URL" line per file, in sorted order.
    const rows = r.stdout.trimEnd().split('\n').map((l) => l.split('\t'));
    expect(rows.map((row) => row[0])).toEqual(['a.txt', 'b/c.bin', 'b/d/e.txt', 'z.txt']);
    for (const [rel, url] of rows) {
      const body = new Uint8Array(await (await fetch(url!)).arrayBuffer());
      expect(sha(body), rel).toBe(sha(files.get(rel!)!));
      // Stored under its base name (a name cannot hold "/"), its place in the tree in metadata.
      const stored = await fileOf(s, url!);
      expect(stored?.name).toBe(rel!.split('/').pop());
      expect(stored?.metadata).toEqual({ relativePath: rel });
    }
    expect(s.ctx.metrics.get('ferry_uploads_completed_total')).toBe(4);

    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toContain(`${join(dir, 'tree')}/: 2 symbolic links not followed`);
    expect(lines.at(-1)).toMatch(/^4 files, 2\.3 MiB uploaded in \d+(\.\d)? s$/);
  });

  it('mixed with a file argument: the file first, then the directory\'s files; --type and relativePath both kept', async () => {
    const { s, dir, env } = await setUp();
    await tree(dir);
    const single = join(dir, 'single.pdf');
    await writeFile(single, randomBytes(5000));
    const r = await runCli(['upload', single, join(dir, 'tree', 'b'), '--server', s.url, '--type', 'application/pdf'], env);
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout.trimEnd().split('\n').map((l) => l.split('\t'));
    // Several arguments: a file found in a directory is named with the directory as typed.
    expect(rows.map((row) => row[0])).toEqual([single, `${join(dir, 'tree', 'b')}/c.bin`, `${join(dir, 'tree', 'b')}/d/e.txt`]);
    expect((await fileOf(s, rows[0]![1]!))?.metadata).toEqual({ type: 'application/pdf' });
    expect((await fileOf(s, rows[2]![1]!))?.metadata).toEqual({ type: 'application/pdf', relativePath: 'd/e.txt' });
    expect(r.stderr.trimEnd().split('\n').at(-1)).toMatch(/^3 files, .* uploaded in /);
  });

  it('--json: each done event names its relativePath; a summary event comes last', async () => {
    const { s, dir, env } = await setUp();
    await tree(dir);
    const r = await runCli(['upload', join(dir, 'tree'), '--server', s.url, '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(jsonEvents(lines, 'done').map((d) => [d.file, d.relativePath])).toEqual([
      ['a.txt', 'a.txt'],
      ['b/c.bin', 'b/c.bin'],
      ['b/d/e.txt', 'b/d/e.txt'],
      ['z.txt', 'z.txt'],
    ]);
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ event: 'summary', total: 4, uploaded: 4, failed: 0 });
  });

  it('two directories holding the same relative names: each file is named with its directory', async () => {
    const { s, dir, env } = await setUp();
    const x = randomBytes(100);
    const y = randomBytes(200);
    await mkdir(join(dir, 'x'));
    await mkdir(join(dir, 'y'));
    await writeFile(join(dir, 'x', 'a.txt'), x);
    await writeFile(join(dir, 'y', 'a.txt'), y);
    const args = ['upload', join(dir, 'x') + '/', join(dir, 'y'), '--server', s.url];
    const r = await runCli(args, env);
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout.trimEnd().split('\n').map((l) => l.split('\t'));
    expect(rows.map((row) => row[0])).toEqual([join(dir, 'x', 'a.txt'), join(dir, 'y', 'a.txt')]);
    expect(sha(new Uint8Array(await (await fetch(rows[0]![1]!)).arrayBuffer()))).toBe(sha(x));
    expect(sha(new Uint8Array(await (await fetch(rows[1]![1]!)).arrayBuffer()))).toBe(sha(y));
    // relativePath stays relative to its own directory.
    expect((await fileOf(s, rows[1]![1]!))?.metadata).toEqual({ relativePath: 'a.txt' });

    const json = await runCli([...args, '--json'], env);
    expect(json.code, json.stderr).toBe(0);
    expect(jsonEvents(json.stdout.trimEnd().split('\n'), 'done').map((d) => [d.file, d.relativePath])).toEqual([
      [join(dir, 'x', 'a.txt'), 'a.txt'],
      [join(dir, 'y', 'a.txt'), 'a.txt'],
    ]);
  });

  it('an empty directory says so and exits non-zero; with other files, they are still uploaded', async () => {
    const { s, dir, env } = await setUp();
    await mkdir(join(dir, 'nothing', 'deeper'), { recursive: true });
    const alone = await runCli(['upload', join(dir, 'nothing'), '--server', s.url], env);
    expect(alone.code).toBe(1);
    expect(alone.stdout).toBe('');
    expect(alone.stderr.trim()).toBe(`${join(dir, 'nothing')}: empty directory (no files under it): nothing to upload`);

    const other = join(dir, 'other.bin');
    await writeFile(other, randomBytes(1000));
    const mixed = await runCli(['upload', join(dir, 'nothing'), other, '--server', s.url], env);
    expect(mixed.code).toBe(1);
    expect(mixed.stdout).toMatch(new RegExp(`^${other.replaceAll('.', '\\.')}\\t\\S+/files/\\S+\\n$`));
    expect(mixed.stderr).toContain('empty directory');
  });
});
