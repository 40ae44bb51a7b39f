// What `ferry upload` and `ferry download` leave on a real 80x24 terminal (a tmux pane), and on stdout
// when it is a pipe: the bar fits the width while it runs, and is cleared at the end; the last line is
// `name → URL` (`name ← URL` for a download), exactly; piped, stdout is the result alone.
// The built CLI against a real `ferry serve` child process on loopback.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { displayWidth } from '../../src/cli/output-width.js';
import { progressLine } from '../../src/cli/progress-line.js';
import { cliPath, runCli } from '../helpers/cli.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { MiB, spawnServer, tempDir, type ChildServer } from '../helpers/server.js';

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
if (!hasTmux && process.env.CI === 'true') throw new Error('tmux is required in CI for the terminal tests (.ci/run installs it)');

const socket = `ferry-pty-${process.pid}`;
let server: ChildServer;
let proxy: FaultProxy;
let dir: string;
let sessions = 0;

beforeAll(async () => {
  dir = await tempDir('ferry-pty-');
});

// A server per test: the test setup stops every child process a test started when it ends.
beforeEach(async () => {
  server = await spawnServer(['--data-dir', join(dir, `data${++sessions}`), '--min-chunk-size', '64KiB', '--default-chunk-size', '1MiB']);
  // A throttled path, so the bar is on screen long enough to be looked at.
  proxy = await startFaultProxy(server.url, { bytesPerSecond: 12 * MiB });
});

afterEach(async () => {
  await proxy.close();
  await server.kill();
});

afterAll(async () => {
  if (hasTmux) stopTmux(socket);
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Stops a private tmux server and removes its socket file (tmux leaves it behind). */
function stopTmux(name: string): void {
  spawnSync('tmux', ['-L', name, 'kill-server']);
  rmSync(join(process.env.TMUX_TMPDIR ?? '/tmp', `tmux-${process.getuid!()}`, name), { force: true });
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

function tmux(...args: string[]): string {
  const r = spawnSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tmux ${args[0]}: ${r.stderr}`);
  return r.stdout;
}

/**
 * The pane's lines, trailing blank ones dropped. A line the terminal wrapped (a URL longer
 * than the width) comes back whole; a live line that wrapped would come back wider than the pane.
 */
function screen(name: string): string[] {
  // -J keeps trailing spaces as well: they are not what these tests look at.
  const rows = tmux('capture-pane', '-p', '-J', '-t', name)
    .split('\n')
    .map((row) => row.trimEnd());
  while (rows.length && rows.at(-1)!.trim() === '') rows.pop();
  return rows;
}

/** Waits (without a timer standing in) for the tmux channel the command signals when it has finished. */
function waitFor(channel: string): Promise<void> {
  return new Promise((res, rej) => {
    const w = spawn('tmux', ['-L', socket, 'wait-for', channel], { stdio: 'ignore' });
    w.once('exit', (code) => (code === 0 ? res() : rej(new Error(`tmux wait-for exited with ${code}`))));
  });
}

/**
 * Runs `ferry <args>` in a new 80x24 pane (cwd `cwd`); resolves with the session name and a promise of
 * its end. The pane stays open after the command so its screen can be read, and prints `[exit N]`.
 */
function inTerminal(args: string[], cwd: string): { name: string; finished: Promise<void> } {
  const name = `s${++sessions}`;
  const channel = `${name}-done`;
  const command = [
    `cd ${quote(cwd)}`,
    `FERRY_STATE_DIR=${quote(join(cwd, '.state'))} ${quote(process.execPath)} ${quote(cliPath)} ${args.map(quote).join(' ')}`,
    'echo "[exit $?]"',
    `tmux -L ${socket} wait-for -S ${channel}`,
    // Keeps the pane for capture-pane; a test process killed before afterAll leaves the tmux server for 5 minutes at most.
    'exec sleep 300',
  ].join('; ');
  // The first one starts the tmux server; a private socket (-L) keeps it apart from any user's.
  tmux('new-session', '-d', '-x', '80', '-y', '24', '-s', name, `sh -c ${quote(command)}`);
  // After the session (the tmux server must exist); a signal sent before anyone waits is kept for the waiter.
  const finished = waitFor(channel);
  // A test that fails before awaiting it must not leave an unhandled rejection when tmux is stopped.
  finished.catch(() => {});
  return { name, finished };
}

async function fileOf(size: number, name: string) {
  const at = join(dir, `w${++sessions}`);
  await mkdir(at, { recursive: true });
  const data = randomBytes(size);
  await writeFile(join(at, name), data);
  return { at, data, path: join(at, name) };
}

describe.skipIf(!hasTmux)('on an 80-column terminal', () => {
  it('upload: the bar fits while it runs; at the end the last line is `name → URL` and nothing else is left of the bar', async () => {
    const name = 'a-rather-long-file-name-for-an-80-column-terminal.bin';
    const src = await fileOf(40 * MiB, name);
    const run = inTerminal(['upload', name, '--server', proxy.url, '--concurrency', '2'], src.at);

    // While it runs: one bar row, within 79 columns (never wrapped onto the next row).
    const isBar = (row: string) => row.includes('█') || row.includes('░');
    let running: string[] = [];
    await expect
      .poll(
        () => {
          const rows = screen(run.name);
          if (rows.some(isBar)) running = rows;
          return running.length;
        },
        { timeout: 60_000, interval: 20 },
      )
      .toBeGreaterThan(0);
    const barRow = running.findIndex(isBar);
    expect(running[barRow]).toMatch(/^a-rather-\S*…\S* [█░]{10,} +\d+% +\S+ \w+\/\S+ \w+/);
    expect([...running[barRow]!].length).toBeLessThan(80);
    expect(running.slice(barRow + 1)).toEqual([]);

    await run.finished;
    const end = screen(run.name);
    expect(end.at(-1)).toBe('[exit 0]');
    const last = end.at(-2)!;
    const m = new RegExp(`^${name.replaceAll('.', '\\.')} → (${proxy.url.replaceAll('.', '\\.')}/files/[A-Za-z0-9_-]+)$`).exec(last);
    expect(m, end.join('\n')).not.toBeNull();
    // Nothing of a bar survives, and every row is a whole line of its own.
    expect(end.join('\n')).not.toMatch(/[█░]|\d+%/);
    expect(end.filter((row) => row.includes('/files/'))).toEqual([last]);
    const body = new Uint8Array(await (await fetch(m![1]!.replace(proxy.url, server.url))).arrayBuffer());
    expect(sha(body)).toBe(sha(src.data));
  });

  it('several files: one `name → URL` line each, in order', async () => {
    const a = await fileOf(3 * MiB, 'one.bin');
    await writeFile(join(a.at, 'two.bin'), randomBytes(2 * MiB));
    const run = inTerminal(['upload', 'one.bin', 'two.bin', '--server', server.url], a.at);
    await run.finished;
    const end = screen(run.name);
    expect(end.at(-1)).toBe('[exit 0]');
    const results = end.filter((row) => row.includes(' → '));
    expect(results).toHaveLength(2);
    expect(results[0]).toMatch(new RegExp(`^one\\.bin → ${server.url.replaceAll('.', '\\.')}/files/\\S+$`));
    expect(results[1]).toMatch(new RegExp(`^two\\.bin → ${server.url.replaceAll('.', '\\.')}/files/\\S+$`));
    expect(end.join('\n')).not.toMatch(/[█░]/);
  });

  it('download: the last line is `name ← URL`; the file is saved whole', async () => {
    const src = await fileOf(24 * MiB, 'payload.bin');
    const up = await runCli(['upload', src.path, '--server', server.url], { FERRY_STATE_DIR: join(src.at, '.state') });
    expect(up.code, up.stderr).toBe(0);
    const url = up.stdout.trim().replace(server.url, proxy.url);
    const into = join(src.at, 'into');
    await mkdir(into);
    const run = inTerminal(['download', url], into);
    await run.finished;
    const end = screen(run.name);
    expect(end.at(-1)).toBe('[exit 0]');
    expect(end.at(-2)).toBe(`payload.bin ← ${url}`);
    expect(end.join('\n')).not.toMatch(/[█░]/);
    expect(sha(await readFile(join(into, 'payload.bin')))).toBe(sha(src.data));
  });
});

describe('stdout piped (url=$(ferry upload f))', () => {
  it('one file: stdout is exactly the URL and a newline; progress and notices went to stderr', async () => {
    const src = await fileOf(2 * MiB, 'single.bin');
    const r = await runCli(['upload', src.path, '--server', server.url], { FERRY_STATE_DIR: join(src.at, '.state') });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${server.url.replaceAll('.', '\\.')}/files/[A-Za-z0-9_-]+\\n$`));
    expect(r.stderr).toMatch(/single\.bin: done: /);
    const body = new Uint8Array(await (await fetch(r.stdout.trim())).arrayBuffer());
    expect(sha(body)).toBe(sha(src.data));
  });

  it('several files: one `name<TAB>URL` line each', async () => {
    const a = await fileOf(1 * MiB, 'first.bin');
    const second = randomBytes(1 * MiB + 1);
    await writeFile(join(a.at, 'second.bin'), second);
    const r = await runCli(['upload', a.path, join(a.at, 'second.bin'), '--server', server.url], { FERRY_STATE_DIR: join(a.at, '.state') });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines.at(-1)).toBe('');
    const rows = lines.slice(0, -1).map((l) => l.split('\t'));
    expect(rows.map((r) => r[0])).toEqual([a.path, join(a.at, 'second.bin')]);
    expect(rows.every((r) => r.length === 2 && /\/files\//.test(r[1]!))).toBe(true);
    expect(sha(new Uint8Array(await (await fetch(rows[1]![1]!)).arrayBuffer()))).toBe(sha(second));
    expect(r.stderr).toMatch(/^2 files, 2\.0 MiB uploaded in /m);
  });

  it('a download: stdout is the saved path alone', async () => {
    const src = await fileOf(1 * MiB, 'saved.bin');
    const up = await runCli(['upload', src.path, '--server', server.url], { FERRY_STATE_DIR: join(src.at, '.state') });
    const dest = join(src.at, 'copy.bin');
    const r = await runCli(['download', up.stdout.trim(), '-o', dest]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${dest}\n`);
  });
});

describe('the progress line', () => {
  const labels = ['a.bin', 'a-rather-long-file-name-for-an-80-column-terminal.bin', '写真アルバム二〇二四年夏の旅行記録ファイル.zip', 'tab\there\u001b[31mred.bin', `${'🚀'.repeat(20)}✅⚡⭐🪐.bin`];
  it('counts emoji as the two columns terminals give them', () => {
    for (const e of ['🚀', '✅', '⚡', '⭐', '🪐', '🛸']) expect(displayWidth(e), e).toBe(2);
    expect(displayWidth('a.bin')).toBe(5);
  });
  const phases = ['starting', 'transferring', 'paused', 'completing', 'done'] as const;
  it('fits every width from 20 to 200 columns, whatever the name (wide characters, control characters)', () => {
    for (const label of labels) {
      for (const phase of phases) {
        for (let width = 20; width <= 200; width++) {
          const p = { phase, totalBytes: 300 * MiB, bytesAcked: 126 * MiB, bytesInFlight: 0, bytesSent: 126 * MiB, totalChunks: 300, chunksDone: 126, rate: 85.3 * MiB, etaSeconds: 2, concurrency: 4, inFlight: 4 };
          const line = progressLine(label, p, width);
          expect(displayWidth(line), `${label} ${phase} ${width}: ${line}`).toBeLessThanOrEqual(width);
          expect(line).not.toMatch(/[\t\n\u001b]/);
        }
      }
    }
  });
});
