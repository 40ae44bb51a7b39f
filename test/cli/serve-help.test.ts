// `ferry serve --help` shows every option's default, and the sizes it shows are the server's own defaults.
import { describe, expect, it } from 'vitest';
import { parseSize } from '../../src/cli/options.js';
import { parseServerConfig } from '../../src/server/index.js';
import { runCli } from '../helpers/cli.js';

/** The help's option entries: flags -> description (a description wrapped over several lines is joined). */
async function serveOptions(): Promise<Map<string, string>> {
  const r = await runCli(['serve', '--help'], { COLUMNS: '200' });
  expect(r.code, r.stderr).toBe(0);
  const section = r.stdout.slice(r.stdout.indexOf('Options:'));
  const entries = new Map<string, string>();
  let current: string | null = null;
  for (const line of section.split('\n').slice(1)) {
    const m = /^ {2}((?:-\w, )?--[\w-]+(?: <[^>]+>)?)\s+(.*)$/.exec(line);
    if (m) {
      current = m[1]!;
      entries.set(current, m[2]!);
    } else if (current && line.trim() !== '') {
      entries.set(current, `${entries.get(current)} ${line.trim()}`);
    }
  }
  return entries;
}

describe('ferry serve --help', () => {
  it('every option that takes a value says what it is when not given', async () => {
    const options = await serveOptions();
    expect(options.size).toBeGreaterThan(40);
    const valued = [...options].filter(([flags]) => flags.includes('<'));
    const silent = valued.filter(([, text]) => !/\bdefault\b/i.test(text)).map(([flags]) => flags);
    expect(silent).toEqual([]);
  });

  it('the size options show the defaults the server uses', async () => {
    const options = await serveOptions();
    const config = parseServerConfig({});
    const sizes: Array<[string, number]> = [
      ['--max-file-size <size>', config.maxFileSize],
      ['--min-chunk-size <size>', config.minChunkSize],
      ['--default-chunk-size <size>', config.defaultChunkSize],
      ['--max-chunk-size <size>', config.maxChunkSize],
      ['--max-reserved <size>', config.maxReservedBytes],
      ['--min-body-rate <size>', config.minBodyRate],
      ['--response-buffer-budget <size>', config.responseBufferBudget],
    ];
    for (const [flags, bytes] of sizes) {
      const text = options.get(flags);
      expect(text, flags).toBeDefined();
      const shown = /\(default: ([^,)]+)/.exec(text!)?.[1];
      expect(shown, `${flags}: ${text}`).toBeDefined();
      expect(parseSize(shown!), `${flags} shows ${shown}`).toBe(bytes);
    }
    expect(options.get('--max-chunk-size <size>')).toContain('(default: 128MiB)');
    expect(options.get('--min-chunk-size <size>')).toContain('(default: 256KiB)');
  });
});
