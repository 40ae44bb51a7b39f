// The Node resume store: a JSON file under the state dir, replaced atomically, surviving reopen.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ResumeEntry } from '../../src/client/upload/io.js';
import { createResumeStore, FileResumeStore, stateDir } from '../../src/client/node/resume-store.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-resume-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const entry = (id: string, expiresAt = Date.now() + 3_600_000): ResumeEntry => ({
  uploadId: id,
  uploadUrl: `http://localhost:1/uploads/${id}`,
  serverUrl: 'http://localhost:1',
  name: 'a.bin',
  size: 10,
  chunkSize: 4,
  totalChunks: 3,
  createdAt: Date.now(),
  expiresAt,
});

describe('stateDir', () => {
  it('prefers FERRY_STATE_DIR, then XDG_STATE_HOME/ferry, then ~/.local/state/ferry', () => {
    expect(stateDir({ FERRY_STATE_DIR: '/x', XDG_STATE_HOME: '/y' })).toBe('/x');
    expect(stateDir({ XDG_STATE_HOME: '/y' })).toBe('/y/ferry');
    expect(stateDir({})).toBe(join(homedir(), '.local', 'state', 'ferry'));
  });

  it('puts uploads.json there, or where the options say', () => {
    expect(createResumeStore({ env: { FERRY_STATE_DIR: dir } }).path).toBe(join(dir, 'uploads.json'));
    expect(createResumeStore({ dir: '/d', env: { FERRY_STATE_DIR: dir } }).path).toBe('/d/uploads.json');
    expect(createResumeStore({ file: '/f.json' }).path).toBe('/f.json');
  });
});

describe('FileResumeStore', () => {
  it('gets, sets and deletes entries', async () => {
    const store = createResumeStore({ dir: join(dir, 'nested', 'state') });
    expect(await store.get('k')).toBeUndefined();
    const e = entry('u1');
    await store.set('k', e);
    expect(await store.get('k')).toEqual(e);
    await store.set('k', { ...entry('u2') });
    expect((await store.get('k'))?.uploadId).toBe('u2');
    await store.delete('k');
    expect(await store.get('k')).toBeUndefined();
    await store.delete('never-there');
  });

  it('survives reopening (another process later)', async () => {
    const a = createResumeStore({ dir });
    await a.set('one', entry('u1'));
    await a.set('two', entry('u2'));
    const b = createResumeStore({ dir });
    expect((await b.get('one'))?.uploadId).toBe('u1');
    expect(Object.keys(await b.list()).sort()).toEqual(['one', 'two']);
  });

  it('writes via a temporary file and rename, leaving only uploads.json', async () => {
    const store = createResumeStore({ dir });
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.set(`k${i}`, entry(`u${i}`))));
    expect(await readdir(dir)).toEqual(['uploads.json']);
    const json = JSON.parse(await readFile(join(dir, 'uploads.json'), 'utf8'));
    expect(json.version).toBe(1);
    expect(Object.keys(json.uploads)).toHaveLength(20);
  });

  it('a crash mid-write leaves the old file intact (a stray temp file is ignored)', async () => {
    const store = createResumeStore({ dir });
    await store.set('k', entry('u1'));
    await writeFile(join(dir, 'uploads.json.999.deadbeef.tmp'), '{"version":1,"upl');
    expect((await createResumeStore({ dir }).get('k'))?.uploadId).toBe('u1');
  });

  it('drops expired entries when it writes', async () => {
    const store = new FileResumeStore(join(dir, 'uploads.json'), () => 5_000);
    await store.set('old', entry('u1', 4_000));
    await store.set('new', entry('u2', 6_000));
    expect(Object.keys(await store.list())).toEqual(['new']);
  });

  it('treats a corrupt or foreign file as empty, and skips malformed entries', async () => {
    const path = join(dir, 'uploads.json');
    await writeFile(path, 'not json');
    const store = new FileResumeStore(path);
    expect(await store.get('k')).toBeUndefined();
    await writeFile(path, JSON.stringify({ version: 1, uploads: { good: entry('u1'), bad: { uploadId: 3 } } }));
    expect(await store.get('good')).toBeDefined();
    expect(await store.get('bad')).toBeUndefined();
    await store.set('k', entry('u3'));
    expect((await store.get('k'))?.uploadId).toBe('u3');
  });
});
