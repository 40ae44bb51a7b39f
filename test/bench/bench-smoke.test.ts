// Keeps the benchmark from rotting: `npm run bench -- --smoke` (a 16 MiB file, a couple of contenders,
// every section scaled down, one small emulated WAN link) must run and produce its tables. Timings are
// never asserted.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { track } from '../helpers/children.js';

const repo = resolve(import.meta.dirname, '../..');

/** Process groups of benchmark runs still to be stopped (the run and every server it started). */
const groups = new Set<number>();

/** SIGKILLs every process of each group (ESRCH: the group is already gone). */
function killGroups(): void {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
    }
  }
  groups.clear();
}

// The worker may exit without running afterEach (the run interrupted): still stop the benchmark.
process.once('exit', killGroups);

function runBench(args: string[], tmp: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    // Its own process group (detached), so that the servers it starts can be stopped with it: the
    // shared straggler kill stops only the direct child, which would orphan them. TMPDIR puts its
    // work directory inside ours, removed in afterAll whatever happened.
    const child = track(
      spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], {
        cwd: repo,
        env: { ...process.env, TMPDIR: tmp },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      }),
    );
    if (child.pid !== undefined) groups.add(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', fail);
    child.once('close', (code) => done({ code, stdout, stderr }));
  });
}

describe('benchmark harness (smoke)', () => {
  let dir: string | undefined;
  // After each test, passed, failed or timed out: nothing of the benchmark runs on.
  afterEach(() => killGroups());
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  // About 12 s on an idle two-core machine, and 8 s more since the WAN section (19 s in all at load 4);
  // it timed out at 120 s beside the rest of the suite.
  it('runs every section on a small file and prints and writes the tables', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-bench-smoke-'));
    const out = join(dir, 'benchmarks.md');
    const r = await runBench(['--smoke', '--no-install', '--out', out], dir);
    expect(r.code, r.stderr).toBe(0);

    // The terminal table: a row per contender with a number in it (whatever the number is).
    expect(r.stdout).toMatch(/^Upload of 16 MiB/m);
    expect(r.stdout).toMatch(/^Ferry CLI \(defaults\)\s+\d/m);
    expect(r.stdout).toMatch(/^Ferry library \(defaults\)\s+\d/m);
    expect(r.stdout).toMatch(/^Download of 16 MiB/m);
    expect(r.stdout).toMatch(/^Peak resident memory/m);
    expect(r.stdout).toMatch(/^Completion latency after the last chunk/m);
    expect(r.stdout).toMatch(/^Targets/m);
    // The WAN section: one small emulated link, Ferry both ways (and curl, where installed) through it.
    // A row has figures only when the file arrived byte for byte (each run checks the source's SHA-256).
    expect(r.stdout).toMatch(/^WAN, smoke link \(20 ms RTT/m);
    expect(r.stdout).toMatch(/^`ferry upload` \(defaults\)\s+\d/m);
    expect(r.stdout).toMatch(/^`ferry download` \(defaults\)\s+\d/m);
    expect(r.stdout).toMatch(/^WAN targets/m);
    // Progress is shown while it runs.
    expect(r.stderr).toMatch(/\[upload 1\/1\] Ferry CLI \(defaults\)/);
    expect(r.stderr).toMatch(/\[wan smoke 1\/1\] `ferry upload` \(defaults\)/);

    const md = await readFile(out, 'utf8');
    expect(md).toMatch(/^# Benchmarks/m);
    expect(md).toMatch(/^## Machine/m);
    expect(md).toMatch(/^\| CPU \| \d+ × /m);
    expect(md).toMatch(/^\| Ferry CLI \(defaults\) \| \d/m);
    expect(md).toMatch(/^## Targets/m);
    expect(md).toMatch(/^## Emulated WAN links/m);
    expect(md).toMatch(/^\| `ferry download` \(defaults\) \| \d/m);
  }, 300_000);
});
