// What a user gets from the packed package: `npm pack`, the tarball installed into an empty prefix,
// then the installed `ferry` command runs, serves, uploads a file and downloads the same bytes back.
//
// better-sqlite3 is a native module. Installed from the registry its install script, prebuild-install,
// fetches a prebuilt binary, and only when there is none compiles SQLite from source (~60 s of one
// core here, where prebuilt downloads cannot be reached). The test gives prebuild-install the binary
// this checkout's `npm ci` compiled, as a local prebuild in prebuild-install's own naming (package,
// version, Node ABI, platform): the same install script runs and loads it, as a user's install does
// with a downloaded one. If npm resolves another better-sqlite3 version than the checkout has, no local
// prebuild matches and it compiles, which is slower but still a real install.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { delimiter, dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/server.js';

const root = resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const sqlitePkg = join(root, 'node_modules/better-sqlite3');
const sqliteBinary = join(sqlitePkg, 'build/Release/better_sqlite3.node');

/** Process groups started here: whatever happens to a test, afterAll kills what is left. */
const groups = new Set<ChildProcess>();

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command in its own process group (npm starts compilers and scripts), killed whole on timeout. */
function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<Run> {
  const child = spawn(cmd, args, { cwd: opts.cwd ?? root, env: opts.env ?? env(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  groups.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => killGroup(child), opts.timeoutMs);
  return new Promise((res) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      groups.delete(child);
      res({ code, stdout, stderr });
    }),
  );
}

function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}

let work: string;
let prefix: string;
let ferryBin: string;

/** The node running this test first on PATH, so npm and the installed `ferry` (#!/usr/bin/env node) use it. */
function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH}`, ...extra };
}

beforeAll(async () => {
  work = await tempDir('ferry-pack-');
  prefix = join(work, 'prefix');

  // --ignore-scripts: `prepare` would rebuild dist/ if it were stale, under the feet of other test files
  // running against it; the suite builds dist/ first (pretest).
  const pack = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { timeoutMs: 60_000 });
  expect(pack.code, pack.stderr).toBe(0);
  const tarball = join(work, JSON.parse(pack.stdout)[0].filename);

  const prebuilds = join(work, 'prebuilds');
  await mkdir(prebuilds);
  const sqliteVersion = JSON.parse(await readFile(join(sqlitePkg, 'package.json'), 'utf8')).version;
  const prebuild = `better-sqlite3-v${sqliteVersion}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  if (existsSync(sqliteBinary)) {
    const tar = await run('tar', ['-czf', join(prebuilds, prebuild), '-C', sqlitePkg, 'build/Release/better_sqlite3.node'], { timeoutMs: 30_000 });
    expect(tar.code, tar.stderr).toBe(0);
  }

  const install = await run(
    'npm',
    ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--allow-scripts=better-sqlite3', tarball],
    { cwd: work, env: env({ npm_config_better_sqlite3_local_prebuilds: prebuilds }), timeoutMs: 280_000 },
  );
  expect(install.code, install.stderr).toBe(0);
  ferryBin = join(prefix, 'bin', 'ferry');
}, 300_000);

afterAll(async () => {
  for (const child of groups) killGroup(child);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the packed tarball, installed', () => {
  it('holds the built code, the command, README and LICENSE, and nothing of the checkout', async () => {
    const installed = join(prefix, 'lib', 'node_modules', pkg.name);
    for (const path of ['bin/ferry.js', 'dist/cli/main.js', 'dist/server/index.js', 'dist/web/index.html', 'dist/web/app.js', 'README.md', 'LICENSE', 'package.json']) {
      expect(existsSync(join(installed, path)), path).toBe(true);
    }
    const top = (await readdir(installed)).filter((name) => name !== 'node_modules').sort();
    expect(top).toEqual(['LICENSE', 'README.md', 'bin', 'dist', 'docs', 'package.json']);
  });

  it('ferry --version prints the package version', async () => {
    const r = await run(ferryBin, ['--version'], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('the installed ferry serves, uploads a file and downloads it back byte-identical', async () => {
    const dir = await tempDir('ferry-pack-run-');
    const clientEnv = env({ FERRY_STATE_DIR: join(dir, 'state') });
    // The installed server: its SQLite binding, pino and the page come from the installed tree.
    const server = spawn(ferryBin, ['serve', '--port', '0', '--data-dir', join(dir, 'data')], { env: clientEnv, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    groups.add(server);
    try {
      let stderr = '';
      server.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const url = await new Promise<string>((res, rej) => {
        createInterface({ input: server.stdout! }).on('line', (line) => {
          if (line.includes('"listening"')) res(JSON.parse(line).url);
        });
        server.once('exit', (code) => rej(new Error(`the installed ferry serve exited with ${code}: ${stderr}`)));
      });
      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<html');

      const data = randomBytes(3 * 1024 * 1024 + 11);
      const source = join(dir, 'source.bin');
      await writeFile(source, data);
      const up = await run(ferryBin, ['upload', source, '--server', url], { env: clientEnv, timeoutMs: 60_000 });
      expect(up.code, up.stderr).toBe(0);
      // The last line ends with the download URL (alone, or after the file's name).
      const fileUrl = /(https?:\/\/\S+)\s*$/.exec(up.stdout.trim().split('\n').pop()!)?.[1];
      expect(fileUrl, up.stdout).toMatch(/\/files\//);

      const out = join(dir, 'back.bin');
      const down = await run(ferryBin, ['download', fileUrl!, '-o', out], { env: clientEnv, timeoutMs: 60_000 });
      expect(down.code, down.stderr).toBe(0);
      const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
      expect(sha(await readFile(out))).toBe(sha(data));
    } finally {
      killGroup(server);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
