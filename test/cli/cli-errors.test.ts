// Command lines that cannot run: one clear line on stderr, no stack trace, no bundle source, non-zero exit.
import { createServer, type Server } from 'node:net';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { parseChunkSize } from '../../src/cli/options.js';
import { listenFailure } from '../../src/cli/serve.js';
import { concurrencyOption } from '../../src/cli/server-option.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/server.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function scratch(): Promise<{ dir: string; file: string; env: NodeJS.ProcessEnv }> {
  const dir = await tempDir('ferry-cli-errors-');
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'somefile');
  await writeFile(file, 'x');
  // Nothing here may reach a server or a state directory: the command line is refused first.
  return { dir, file, env: { FERRY_STATE_DIR: join(dir, 'state'), FERRY_SERVER: 'http://127.0.0.1:9' } };
}

/** Exactly one line, no stack frame, none of the bundle's source; the line is returned. */
function oneLine(r: { code: number | null; stdout: string; stderr: string }): string {
  expect(r.code, r.stderr).not.toBe(0);
  expect(r.code, r.stderr).not.toBeNull();
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  expect(lines, r.stderr).toHaveLength(1);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr.length, r.stderr).toBeLessThan(300);
  expect(r.stderr).not.toMatch(/function|=>|new \w+\(|Usage:/);
  expect(r.stdout).toBe('');
  return lines[0]!;
}

describe('a bad option value', () => {
  const cases: Array<{ args: (f: string, dir: string) => string[]; option: string; value: string }> = [
    { args: (f) => ['upload', '-c', '0', f], option: '--concurrency', value: '0' },
    { args: (f) => ['upload', '-c', 'abc', f], option: '--concurrency', value: 'abc' },
    { args: (f) => ['upload', '--concurrency', '65', f], option: '--concurrency', value: '65' },
    { args: (f) => ['upload', '--chunk-size', 'abc', f], option: '--chunk-size', value: 'abc' },
    { args: (f) => ['upload', '--chunk-size', '0', f], option: '--chunk-size', value: '0' },
    { args: (f) => ['upload', '--chunk-size', '0.1', f], option: '--chunk-size', value: '0.1' },
    { args: (f) => ['upload', '--timeout', '0', f], option: '--timeout', value: '0' },
    { args: (f) => ['upload', '--timeout', 'soon', f], option: '--timeout', value: 'soon' },
    { args: () => ['download', '-c', '-3', 'http://127.0.0.1:9/files/x'], option: '--concurrency', value: '-3' },
    { args: () => ['download', '-c', 'many', 'http://127.0.0.1:9/files/x'], option: '--concurrency', value: 'many' },
    { args: () => ['download', '--chunk-size', '12 parsecs', 'http://127.0.0.1:9/files/x'], option: '--chunk-size', value: '12 parsecs' },
    { args: () => ['download', '--chunk-size', '0', 'http://127.0.0.1:9/files/x'], option: '--chunk-size', value: '0' },
    { args: () => ['download', '--timeout', '-1', 'http://127.0.0.1:9/files/x'], option: '--timeout', value: '-1' },
    { args: (_, d) => ['serve', '--port', 'abc', '--data-dir', d], option: '--port', value: 'abc' },
    { args: (_, d) => ['serve', '-p', '70000', '--data-dir', d], option: '--port', value: '70000' },
    { args: (_, d) => ['serve', '--upload-ttl', '0', '--data-dir', d], option: '--upload-ttl', value: '0' },
    { args: (_, d) => ['serve', '--keep-alive-timeout', 'x', '--data-dir', d], option: '--keep-alive-timeout', value: 'x' },
    { args: (_, d) => ['serve', '--headers-timeout', '-5', '--data-dir', d], option: '--headers-timeout', value: '-5' },
    { args: (_, d) => ['serve', '--max-connections', '0', '--data-dir', d], option: '--max-connections', value: '0' },
    { args: (_, d) => ['serve', '--max-chunk-size', 'lots', '--data-dir', d], option: '--max-chunk-size', value: 'lots' },
    { args: (_, d) => ['serve', '--orphan-grace', 'later', '--data-dir', d], option: '--orphan-grace', value: 'later' },
    { args: (_, d) => ['serve', '--auth', 'maybe', '--data-dir', d], option: '--auth', value: 'maybe' },
  ];

  for (const c of cases) {
    it(`${c.args('FILE', 'DIR').slice(0, 3).join(' ')}: one line naming ${c.option}`, async () => {
      const s = await scratch();
      const r = await runCli(c.args(s.file, join(s.dir, 'data')), s.env);
      const line = oneLine(r);
      expect(r.code).toBe(2);
      const command = c.args('', '')[0];
      expect(line.startsWith(`ferry ${command}: ${c.option}`), line).toBe(true);
      expect(line).toContain(`"${c.value}"`);
    });
  }

  it('names the environment variable a bad value came from', async () => {
    const s = await scratch();
    const r = await runCli(['serve', '--data-dir', join(s.dir, 'data')], { ...s.env, PORT: 'eighty' });
    const line = oneLine(r);
    expect(line).toContain('--port');
    expect(line).toContain('$PORT');
    expect(line).toContain('"eighty"');
  });

  it('a chunk size below one byte is refused by its parser (whichever command uses it)', () => {
    expect(() => parseChunkSize('0')).toThrow(InvalidArgumentError);
    expect(() => parseChunkSize('0.4')).toThrow(/at least 1 byte/);
    expect(parseChunkSize('1')).toBe(1);
    expect(parseChunkSize('8MiB')).toBe(8 * 1024 * 1024);
  });

  it('the concurrency parser refuses with the error commander expects of a parser', () => {
    const parse = concurrencyOption().parseArg!;
    expect(() => parse('abc', undefined)).toThrow(InvalidArgumentError);
    expect(() => parse('0', undefined)).toThrow(InvalidArgumentError);
    expect(parse('auto', undefined)).toBe('auto');
    expect(parse('8', undefined)).toBe(8);
  });
});

describe('a command line commander cannot parse: one line pointing at --help, exit 2', () => {
  const cases: Array<{ args: (f: string) => string[]; line: string }> = [
    { args: (f) => ['upload', '--foo', f], line: "ferry upload: unknown option '--foo' (see ferry upload --help)" },
    { args: (f) => ['upload', '--file-digst', f], line: "ferry upload: unknown option '--file-digst'; did you mean --file-digest? (see ferry upload --help)" },
    { args: () => ['download', '--nope', 'http://127.0.0.1:9/files/x'], line: "ferry download: unknown option '--nope' (see ferry download --help)" },
    { args: () => ['serve', '--bogus'], line: "ferry serve: unknown option '--bogus' (see ferry serve --help)" },
    { args: () => ['keys', 'list', '--bogus'], line: "ferry keys list: unknown option '--bogus' (see ferry keys list --help)" },
    { args: () => ['uplaod'], line: "ferry: unknown command 'uplaod'; did you mean upload? (see ferry --help)" },
    { args: () => ['rm'], line: "ferry rm: missing required argument 'file' (see ferry rm --help)" },
    { args: () => ['upload'], line: "ferry upload: missing required argument 'path' (see ferry upload --help)" },
    { args: (f) => ['upload', f, '--chunk-size'], line: "ferry upload: option '--chunk-size <size>' argument missing (see ferry upload --help)" },
    { args: () => ['abort', 'a', 'b'], line: "ferry abort: too many arguments for 'abort'. Expected 1 argument but got 2 (see ferry abort --help)" },
  ];
  for (const c of cases) {
    it(c.args('FILE').join(' '), async () => {
      const s = await scratch();
      const r = await runCli(c.args(s.file), s.env);
      expect(oneLine(r)).toBe(c.line);
      expect(r.code).toBe(2);
    });
  }
});

describe('a --server without a scheme: one line suggesting one, exit 2 (nothing is asked)', () => {
  const suggestion = '--server localhost:18931 has no scheme: did you mean http://localhost:18931?';
  const cases: Array<{ args: string[]; line: string }> = [
    { args: ['ls'], line: `ferry ls: ${suggestion}` },
    { args: ['rm', 'FileId0123456789abcdefgh', 'OtherId0123456789abcdefg'], line: `ferry rm: ${suggestion}` },
    { args: ['abort', 'UploadId0123456789abcdef'], line: `ferry abort: ${suggestion}` },
    { args: ['status', 'UploadId0123456789abcdef'], line: `ferry status: ${suggestion}` },
  ];
  for (const c of cases) {
    it(c.args[0]!, async () => {
      const s = await scratch();
      const r = await runCli([...c.args, '-s', 'localhost:18931'], s.env);
      expect(oneLine(r)).toBe(c.line);
      expect(r.code).toBe(2);
    });
  }

  it('a host elsewhere is offered https; a scheme other than http(s) is refused', async () => {
    const s = await scratch();
    const r = await runCli(['ls', '-s', 'ferry.example.com/base'], s.env);
    expect(oneLine(r)).toBe('ferry ls: --server ferry.example.com/base has no scheme: did you mean https://ferry.example.com/base?');
    const ftp = await runCli(['ls', '-s', 'ftp://ferry.example.com'], s.env);
    expect(oneLine(ftp)).toBe('ferry ls: --server ftp://ferry.example.com: only http and https URLs are supported');
    expect(ftp.code).toBe(2);
  });
});

describe('a download URL without a scheme: one line, the question not followed by a period', () => {
  it('download localhost:18931/files/x', async () => {
    const s = await scratch();
    const r = await runCli(['download', 'localhost:18931/files/x'], s.env);
    expect(r.stderr.trim()).toMatch(/URL has no scheme: localhost:18931\/files\/x — did you mean http:\/\/localhost:18931\/files\/x\?$/);
    expect(r.code).not.toBe(0);
  });
});

describe('ferry serve on an address it cannot take', () => {
  async function holdPort(): Promise<number> {
    const holder: Server = createServer();
    await new Promise<void>((resolve, reject) => {
      holder.once('error', reject);
      holder.listen(0, '127.0.0.1', () => resolve());
    });
    cleanups.push(() => new Promise((resolve) => holder.close(resolve)));
    return (holder.address() as { port: number }).port;
  }

  it('a busy port: one line naming the address, exit 1', async () => {
    const port = await holdPort();
    const s = await scratch();
    const r = await runCli(['serve', '--port', String(port), '--data-dir', join(s.dir, 'data')], s.env);
    const line = oneLine(r);
    expect(r.code).toBe(1);
    expect(line).toMatch(new RegExp(`^ferry serve: cannot listen on 127\\.0\\.0\\.1:${port}: the address is in use`));
    expect(line).toContain('EADDRINUSE');
  });

  it('a busy --metrics-address: one line naming that option', async () => {
    const port = await holdPort();
    const s = await scratch();
    const r = await runCli(['serve', '--port', '0', '--metrics-address', `127.0.0.1:${port}`, '--data-dir', join(s.dir, 'data')], s.env);
    const line = oneLine(r);
    expect(r.code).toBe(1);
    expect(line).toContain(`cannot listen on 127.0.0.1:${port} (--metrics-address): the address is in use`);
  });

  it('words a refused (EACCES) or unknown address as one line too', () => {
    const config = { host: '127.0.0.1', port: 80 };
    const eacces = Object.assign(new Error('listen EACCES: permission denied 127.0.0.1:80'), { code: 'EACCES', syscall: 'listen', address: '127.0.0.1', port: 80 });
    expect(listenFailure(eacces, config)).toMatch(/^cannot listen on 127\.0\.0\.1:80: permission denied \(EACCES: ports below 1024/);
    const v6 = Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE', syscall: 'listen', address: '::1', port: 8080 });
    expect(listenFailure(v6, { host: '::1', port: 8080 })).toMatch(/^cannot listen on \[::1\]:8080: the address is in use/);
    const unknown = Object.assign(new Error('getaddrinfo ENOTFOUND nosuch.invalid'), { code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname: 'nosuch.invalid' });
    expect(listenFailure(unknown, { host: 'nosuch.invalid', port: 0 })).toMatch(/^cannot listen on nosuch\.invalid: unknown host/);
    expect(listenFailure(new Error('disk on fire'), config)).toBeUndefined();
  });
});
