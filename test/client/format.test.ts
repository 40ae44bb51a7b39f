// The formatting the CLI and the page share (src/client/format.ts): one implementation, each side's
// placeholders, and no speed for a transfer too short or too empty to have one.
import { describe, expect, it } from 'vitest';
import * as cli from '../../src/cli/format.js';
import { averageRate, describeTransfer, formatBytes, formatClock, formatDuration, formatElapsed, formatRate, sentence } from '../../src/client/format.js';
import * as web from '../../src/web/format.js';

describe('shared formatting', () => {
  it('the CLI and the page use the same functions, not copies', () => {
    expect(cli.formatBytes).toBe(formatBytes);
    expect(web.formatBytes).toBe(formatBytes);
    expect(cli.formatElapsed).toBe(formatElapsed);
    expect(cli.sentence).toBe(sentence);
    expect(web.formatRate).toBe(formatRate);
  });

  it('sizes and speeds are rounded to 3 figures', () => {
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatRate(238.0952380952381)).toBe('238 B/s');
    expect(formatRate(21.34 * 1024 * 1024)).toBe('21.3 MiB/s');
    expect(formatRate(null)).toBe('–');
    expect(cli.formatRate(null)).toBe('-- MiB/s');
    expect(cli.formatRate(512 * 1024)).toBe('512 KiB/s');
  });

  it('durations in words for the page, as a clock for the terminal', () => {
    expect(formatDuration(75)).toBe('1 min 15 s');
    expect(formatClock(75)).toBe('01:15');
    expect(formatClock(3725)).toBe('1:02:05');
    expect(cli.formatDuration(null)).toBe('--:--');
    expect(formatElapsed(0.42)).toBe('0.4 s');
  });

  it('a finished transfer: no speed when instant or empty', () => {
    expect(averageRate(0, 1000)).toBeNull();
    expect(averageRate(5000, 999)).toBeNull();
    expect(averageRate(2048, 2000)).toBe(1024);
    expect(describeTransfer(0, 1000)).toBe('');
    expect(describeTransfer(5000, 420)).toBe('');
    expect(describeTransfer(5000, 1000)).toBe('1 s, 4.9 KiB/s');
    expect(describeTransfer(64 * 1024 * 1024, 3000)).toBe('3 s, 21.3 MiB/s');
  });
});
