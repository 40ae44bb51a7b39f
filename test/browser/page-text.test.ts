// What the page says: sizes, speeds and durations, and the sentences for failures and retries
// (pure modules of src/web, run in Node).
import { describe, expect, it } from 'vitest';
import { FerryError, NetworkError, UploadError } from '../../src/client/index.js';
import { canRetry, describeFailure, describeRetry } from '../../src/web/describe.js';
import { formatBytes, formatDuration, formatRate, percentOf } from '../../src/web/format.js';
import { readSettings } from '../../src/web/settings.js';

describe('format', () => {
  it('sizes in binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(64 * 1024 * 1024)).toBe('64.0 MiB');
    expect(formatBytes(300 * 1024 ** 3)).toBe('300 GiB');
    expect(formatBytes(-1)).toBe('–');
  });
  it('speeds and durations', () => {
    expect(formatRate(null)).toBe('–');
    expect(formatRate(2 * 1024 * 1024)).toBe('2.0 MiB/s');
    expect(formatDuration(null)).toBe('–');
    expect(formatDuration(0.2)).toBe('1 s');
    expect(formatDuration(59)).toBe('59 s');
    expect(formatDuration(75)).toBe('1 min 15 s');
    expect(formatDuration(120)).toBe('2 min');
    expect(formatDuration(3 * 3600 + 60 * 5)).toBe('3 h 5 min');
  });
  it('percent is rounded down: 100 only when done', () => {
    expect(percentOf(999, 1000)).toBe(99);
    expect(percentOf(1000, 1000)).toBe(100);
    expect(percentOf(0, 0)).toBe(100);
  });
});

describe('describeRetry', () => {
  it('a lost connection counts down', () => {
    const e = { kind: 'unreachable' as const, error: new NetworkError('fetch failed') };
    expect(describeRetry(e, 4000)).toBe('Connection lost, retrying in 4 s…');
    expect(describeRetry(e, 3100)).toBe('Connection lost, retrying in 4 s…');
    expect(describeRetry(e, 0)).toBe('Connection lost, retrying now…');
  });
  it('a server error names the problem', () => {
    const e = { kind: 'transient' as const, error: new FerryError('internal-error', 'The server could not complete the request.') };
    expect(describeRetry(e, 2000)).toBe('The server had a problem (The server could not complete the request.), retrying in 2 s…');
  });
});

describe('describeFailure', () => {
  const fatal = (problem: FerryError) => new UploadError('fatal', `create upload failed: ${problem.message}`, { cause: problem });
  it("too large: the server's detail and its limit", () => {
    const p = new FerryError('file-too-large', 'This server accepts files up to 1048576 bytes.', { maxFileSize: 1048576 });
    expect(describeFailure(fatal(p))).toBe('The server refused this file: This server accepts files up to 1048576 bytes. (the limit is 1.0 MiB)');
  });
  it('expired: start over', () => {
    const p = new FerryError('upload-expired', 'The upload expired.');
    expect(describeFailure(fatal(p))).toMatch(/^The unfinished upload expired on the server.*start over\. \(The upload expired\.\)$/);
  });
  it('unreachable for too long: progress is kept', () => {
    const e = new UploadError('outage', 'GET capabilities: the server stayed unreachable too long', { cause: new NetworkError('x') });
    expect(describeFailure(e)).toMatch(/^The server stayed unreachable.*select the same file again to resume\.$/);
    expect(describeFailure(new NetworkError('GET /files: Failed to fetch'))).toBe('Cannot reach the server (GET /files: Failed to fetch).');
  });
  it('any other problem keeps its detail', () => {
    expect(describeFailure(new FerryError('insufficient-storage', 'Disk full.'))).toBe('The server is out of storage space. (Disk full.)');
    expect(describeFailure(new FerryError('malformed-request', 'Bad name.'))).toBe('The server refused the upload: Bad name.');
  });
});

describe('canRetry', () => {
  it('offers another try unless the same request must fail again', () => {
    expect(canRetry(new UploadError('outage', 'down'))).toBe(true);
    expect(canRetry(new UploadError('fatal', 'x', { cause: new FerryError('upload-expired') }))).toBe(true);
    expect(canRetry(new UploadError('fatal', 'x', { cause: new FerryError('file-too-large') }))).toBe(false);
    expect(canRetry(new UploadError('invalid', 'unreadable'))).toBe(false);
  });
});

describe('readSettings', () => {
  it('the server is the page directory; query options are read, junk ignored', () => {
    expect(readSettings({ href: 'http://h:1/' })).toEqual({ server: 'http://h:1/', options: { maxConcurrency: 6 } });
    expect(readSettings({ href: 'https://h/ferry/?concurrency=1&chunkSize=1048576' })).toEqual({
      server: 'https://h/ferry/',
      options: { maxConcurrency: 6, concurrency: 1, chunkSize: 1048576 },
    });
    expect(readSettings({ href: 'http://h/?concurrency=-1&chunkSize=1e9' }).options).toEqual({ maxConcurrency: 6 });
  });
});
