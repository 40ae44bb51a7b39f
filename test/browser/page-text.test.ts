// What the page says: sizes, speeds and durations, and the sentences for failures and retries
// (pure modules of src/web, run in Node).
import { describe, expect, it } from 'vitest';
import { FerryError, NetworkError, UploadError } from '../../src/client/index.js';
import { accessOf, mayDownload } from '../../src/web/access.js';
import { credentialKind, CredentialStore, fragmentWithoutGrant, grantFromFragment } from '../../src/web/credential.js';
import { canRetry, describeFailure, describeFileProblem, describeRetry, describeSignIn, needsSignIn } from '../../src/web/describe.js';
import { formatBytes, formatDuration, formatRate, percentOf } from '../../src/web/format.js';
import type { Whoami } from '../../src/web/server-api.js';
import { readSettings } from '../../src/web/settings.js';
import { describeAccount } from '../../src/web/sign-in.js';

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
    // A 5-byte file uploaded in 0.97 s: rounded like every other speed, not 16 digits.
    expect(formatRate(5 / 0.97)).toBe('5.2 B/s');
    expect(formatRate(512.7)).toBe('513 B/s');
    expect(formatRate(0.25)).toBe('0.3 B/s');
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
    expect(describeFailure(new NetworkError('GET /files: Failed to fetch'))).toBe("Can't reach the server. Check your connection, or try again once it is back.");
  });
  it('never reached (refused, unknown host, TLS): says so and what to check', () => {
    const e = new UploadError('unreachable', 'cannot connect to 127.0.0.1:9 (connection refused)', { cause: new NetworkError('x') });
    expect(describeFailure(e)).toBe('The server could not be reached (cannot connect to 127.0.0.1:9 (connection refused)). Check the address, or try again once it is up.');
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

describe('credentials', () => {
  const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl';
  it('a grant is taken from the fragment, which keeps anything else it had', () => {
    expect(grantFromFragment(`#grant=${jwt}`)).toBe(jwt);
    expect(grantFromFragment(`#view=list&grant=${jwt}`)).toBe(jwt);
    expect(grantFromFragment('#grant=')).toBeNull();
    expect(grantFromFragment('')).toBeNull();
    expect(fragmentWithoutGrant(`#grant=${jwt}`)).toBe('');
    expect(fragmentWithoutGrant(`#view=list&grant=${jwt}`)).toBe('#view=list');
  });
  it('grants are JWTs; anything else is an API key', () => {
    expect(credentialKind(jwt)).toBe('grant');
    expect(credentialKind(`fk_0123456789abcdef_${'a'.repeat(43)}`)).toBe('key');
  });
  it('kept in the storage given, and in memory when that storage refuses', () => {
    const map = new Map<string, string>();
    const storage = { getItem: (k: string) => map.get(k) ?? null, setItem: (k: string, v: string) => void map.set(k, v), removeItem: (k: string) => void map.delete(k) };
    const store = new CredentialStore(storage as Storage);
    store.set('fk_x');
    expect(map.get('ferry:credential')).toBe('fk_x');
    store.clear();
    expect(store.get()).toBeNull();
    const refusing = new CredentialStore({ getItem: () => null, setItem: () => { throw new Error('QuotaExceededError'); }, removeItem: () => {} } as unknown as Storage);
    refusing.set('fk_y');
    expect(refusing.get()).toBe('fk_y');
  });
});

describe('access', () => {
  const who = (extra: Partial<Whoami> & Pick<Whoami, 'via'>): Whoami => ({ identity: 'alice', role: 'user', auth: 'token', ...extra });
  it('open servers and API keys are offered everything (the server decides)', () => {
    expect(accessOf(who({ via: 'open' }), null)).toMatchObject({ via: 'open', listFiles: true, changeFiles: true, upload: true });
    expect(accessOf(who({ via: 'key' }), 'fk_x')).toMatchObject({ via: 'key', grant: null, changeFiles: true });
    expect(accessOf(null, null).via).toBe('open');
    expect([accessOf(who({ via: 'key', role: 'admin' }), 'fk_x').admin, accessOf(who({ via: 'key' }), 'fk_x').admin]).toEqual([true, false]);
  });
  it("a grant's scope decides which buttons show", () => {
    const reader = accessOf(who({ via: 'grant', scope: { files: 'read' } }), 'g.r.t');
    expect(reader).toMatchObject({ listFiles: true, changeFiles: false, upload: false });
    const uploader = accessOf(who({ via: 'grant', scope: { upload: { maxBytes: 1 }, read: ['f2'] } }), 'g.r.t');
    expect(uploader).toMatchObject({ listFiles: false, changeFiles: false, upload: true });
    expect([mayDownload(uploader, 'f1'), mayDownload(uploader, 'f2')]).toEqual([false, true]);
    expect(accessOf(who({ via: 'grant', scope: { files: 'write' } }), 'g.r.t').changeFiles).toBe(true);
  });
  it('who is signed in, and until when', () => {
    expect(describeAccount({ ...who({ via: 'key' }), role: 'admin' })).toBe('Signed in as alice (admin) with an API key');
    expect(describeAccount(who({ via: 'grant', expiresAt: '2026-12-03T15:10:00.000Z' }), 'en-GB')).toMatch(/^Signed in as alice · access until 3 Dec 2026, \d\d:\d\d$/);
  });
});

describe('sign-in and permission messages', () => {
  it('no credential: the form explains; a bad or expired one: said plainly', () => {
    expect(describeSignIn(new FerryError('unauthenticated', 'x'))).toBe('');
    expect(describeSignIn(new FerryError('credential-expired', 'The grant has expired.'))).toMatch(/^Your access has expired\./);
    expect(describeSignIn(new FerryError('invalid-credential', 'The API key is unknown or revoked.'))).toBe(
      'That key or grant was not accepted (The API key is unknown or revoked.). Check it and try again.',
    );
    expect(needsSignIn(new UploadError('fatal', 'x', { cause: new FerryError('credential-expired') }))).toBe(true);
    expect(needsSignIn(new FerryError('forbidden'))).toBe(false);
  });
  it('a scope that does not allow it is named, and not retried', () => {
    expect(describeFileProblem(new FerryError('forbidden', 'This credential may read file f but not change it.'), 'delete a.txt')).toBe(
      'Your access does not allow you to delete a.txt. (This credential may read file f but not change it.)',
    );
    expect(describeFileProblem(new FerryError('file-not-found', 'No file f.'), 'delete a.txt')).toBe('This file is no longer on the server.');
    expect(describeFailure(new UploadError('fatal', 'x', { cause: new FerryError('grant-budget-exceeded', 'Used 10 of 10 bytes.') }))).toBe(
      'Your upload allowance is used up. (Used 10 of 10 bytes.)',
    );
    expect(canRetry(new UploadError('fatal', 'x', { cause: new FerryError('grant-budget-exceeded') }))).toBe(false);
    expect(canRetry(new UploadError('fatal', 'x', { cause: new FerryError('credential-expired') }))).toBe(true);
  });
});
