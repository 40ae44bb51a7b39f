// `npm start` builds only what changed: scripts/build-if-stale.mjs runs `npm run build` when dist/ is
// missing or an input changed since the last finished build, and not otherwise; `npm start -- --port N`
// passes its options to `ferry serve`.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';
import { tempDir } from '../helpers/server.js';

const root = resolve(import.meta.dirname, '../..');
const started = new Set<ChildProcess>();

function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}
afterAll(() => started.forEach(killGroup));

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  started.add(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((res) => child.once('close', (code) => (started.delete(child), res({ code, stderr }))));
}

describe('build-if-stale, on a scratch tree with a stand-in build', () => {
  let tree: string;
  const builds = async () => (await readFile(join(tree, 'builds.log'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
  const check = () => run(process.execPath, ['scripts/build-if-stale.mjs'], tree);
  /** Sets a file's content and moves its modification time on, as an editor's save does. */
  let clock = Date.now() / 1000;
  async function save(path: string, text: string): Promise<void> {
    await writeFile(join(tree, path), text);
    clock += 10;
    await utimes(join(tree, path), clock, clock);
  }

  beforeAll(async () => {
    tree = await tempDir('ferry-stale-');
    await mkdir(join(tree, 'scripts'));
    await mkdir(join(tree, 'src'));
    for (const name of ['build-inputs.mjs', 'build-if-stale.mjs']) await copyFile(join(root, 'scripts', name), join(tree, 'scripts', name));
    // The stand-in build writes the outputs build-if-stale requires and counts itself; FAIL_BUILD makes it
    // fail half-way, EDIT_DURING_BUILD saves a source while it runs.
    await writeFile(
      join(tree, 'build.mjs'),
      `import { appendFileSync, mkdirSync, writeFileSync, utimesSync } from 'node:fs';
for (const f of ['dist/cli/main.js', 'dist/server/index.js', 'dist/web/app.js', 'dist/web/index.html']) {
  mkdirSync(f.slice(0, f.lastIndexOf('/')), { recursive: true });
  writeFileSync(f, '');
}
appendFileSync('builds.log', 'built\\n');
if (process.env.EDIT_DURING_BUILD) { writeFileSync('src/a.ts', 'edited while building'); const t = Date.now() / 1000 + 3600; utimesSync('src/a.ts', t, t); }
if (process.env.FAIL_BUILD) process.exit(1);
`,
    );
    await writeFile(
      join(tree, 'package.json'),
      JSON.stringify({
        name: 'scratch',
        private: true,
        scripts: { build: 'node scripts/build-inputs.mjs begin && node build.mjs && node scripts/build-inputs.mjs end' },
      }),
    );
    await save('src/a.ts', 'one');
  });
  afterAll(() => rm(tree, { recursive: true, force: true }));

  it('builds a tree that was never built, then not again while nothing changes', async () => {
    const first = await check();
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/building dist\/ \(dist\/cli\/main\.js is missing\)/);
    expect(await builds()).toHaveLength(1);
    for (let i = 0; i < 2; i++) {
      const again = await check();
      expect(again.code).toBe(0);
      expect(again.stderr).toBe('');
    }
    expect(await builds()).toHaveLength(1);
  });

  it('rebuilds after a source is changed, added or removed', async () => {
    await save('src/a.ts', 'two');
    expect((await check()).stderr).toContain('(src/a.ts changed)');
    await save('src/b.ts', 'new');
    expect((await check()).stderr).toContain('(src/b.ts is new)');
    await unlink(join(tree, 'src/b.ts'));
    expect((await check()).stderr).toContain('(src/b.ts was removed)');
    expect(await builds()).toHaveLength(4);
    expect((await check()).stderr).toBe('');
  });

  it('rebuilds when an output is gone', async () => {
    await rm(join(tree, 'dist/web'), { recursive: true });
    expect((await check()).stderr).toContain('(dist/web/app.js is missing)');
    expect(await builds()).toHaveLength(5);
  });

  it('a failed build is not taken for a finished one', async () => {
    await save('src/a.ts', 'three');
    const failed = await run(process.execPath, ['scripts/build-if-stale.mjs'], tree, { FAIL_BUILD: '1' });
    expect(failed.code).not.toBe(0);
    expect((await check()).stderr).toContain('(no finished build recorded)');
    expect(await builds()).toHaveLength(7);
  });

  it('a source saved while the build runs is built again next time', async () => {
    await save('src/a.ts', 'four');
    expect((await run(process.execPath, ['scripts/build-if-stale.mjs'], tree, { EDIT_DURING_BUILD: '1' })).code).toBe(0);
    expect((await check()).stderr).toContain('(src/a.ts changed)');
    expect((await check()).stderr).toBe('');
  });

  it('--clean (prepack) builds from an empty dist/: nothing a deleted source left survives', async () => {
    await writeFile(join(tree, 'dist/cli/deleted-source.js'), '');
    const r = await run(process.execPath, ['scripts/build-if-stale.mjs', '--clean'], tree);
    expect(r.stderr).toContain('(a clean build for the package)');
    expect(existsSync(join(tree, 'dist/cli/deleted-source.js'))).toBe(false);
    expect(await builds()).toHaveLength(10);
    expect((await check()).stderr).toBe('');
  });

  it('--check says why without building', async () => {
    await save('src/a.ts', 'five');
    const r = await run(process.execPath, ['scripts/build-if-stale.mjs', '--check'], tree);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('dist/ is out of date: src/a.ts changed');
    expect(await builds()).toHaveLength(10);
  });
});

describe('npm start on this checkout', () => {
  it('with dist/ up to date, starts without building and takes `-- --port N`', async (ctx) => {
    const fresh = await run(process.execPath, ['scripts/build-if-stale.mjs', '--check'], root);
    if (fresh.code !== 0) {
      // The suite builds first (pretest); run alone after an edit, build first.
      if (process.env.CI === 'true') throw new Error(`npm start must be tested in CI, but ${fresh.stderr.trim()}`);
      ctx.skip(`${fresh.stderr.trim()} (npm run build first)`);
    }
    const dir = await tempDir('ferry-npm-start-');
    const port = await freePort();
    // A build rewrites these; starting must leave them as they are.
    const outputs = ['dist/cli/main.js', 'dist/web/app.js', 'dist/server/index.js'].map((f) => join(root, f));
    const mtimes = async () => Promise.all(outputs.map(async (f) => (await stat(f)).mtimeMs));
    const before = await mtimes();
    const child = spawn('npm', ['start', '--', '--port', String(port), '--data-dir', join(dir, 'data')], {
      cwd: root,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started.add(child);
    try {
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const listening = await new Promise<{ url: string }>((res, rej) => {
        createInterface({ input: child.stdout! }).on('line', (line) => {
          if (line.includes('"listening"')) res(JSON.parse(line));
        });
        child.once('exit', (code) => rej(new Error(`npm start exited with ${code}: ${stderr}`)));
      });
      expect(listening.url).toBe(`http://127.0.0.1:${port}`);
      expect(stderr).not.toContain('building dist/');
      expect(await mtimes()).toEqual(before);
    } finally {
      killGroup(child);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
