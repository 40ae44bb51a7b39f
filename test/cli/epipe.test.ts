// `ferry upload a b c | head -1`: once the reader has gone, the CLI stops quietly with status 141
// (as if killed by SIGPIPE, like other Unix tools) instead of an unhandled EPIPE and a stack trace.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { cliPath } from '../helpers/cli.js';
import { track } from '../helpers/children.js';
import { KiB, startTestServer, tempDir } from '../helpers/server.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

it('a reader that closes stdout early: exit 141, no stack trace', async () => {
  const server = await startTestServer();
  cleanups.push(() => server.dispose());
  const dir = await tempDir('ferry-epipe-');
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const files = ['a.bin', 'b.bin', 'c.bin', 'd.bin'].map((n) => join(dir, n));
  for (const f of files) await writeFile(f, randomBytes(4 * KiB));
  const script = `"${process.execPath}" "${cliPath}" upload ${files.map((f) => `"${f}"`).join(' ')} --server ${server.url} --no-resume | head -1; echo "status=\${PIPESTATUS[0]}" >&2`;
  const child = track(spawn('bash', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  await new Promise((resolve) => child.once('close', resolve));
  expect(stdout.trim().split('\n')).toHaveLength(1);
  expect(stderr).toContain('status=141');
  expect(stderr).not.toMatch(/EPIPE|Unhandled|at .*main\.js/);
});
