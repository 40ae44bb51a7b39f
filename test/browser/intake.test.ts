// Ways files reach the page, in real Chromium: a folder through "Choose folder…", a drop of folders and
// loose files together (a real drag through Chromium's DevTools protocol, so the page walks real
// directory entries), a real Ctrl/Cmd-V of an image, names the server would refuse, and previews.
import { mkdir, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import type { Locator, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { call } from '../helpers/http.js';
import { MiB } from '../helpers/server.js';
import { axeViolations } from './support/axe.js';
import { skipBrowser } from './support/chromium.js';
import { pageFixture, type PageFixture } from './support/fixture.js';
import { fetchDigest, makeFile } from './support/files.js';
import { gotoReady, openPage } from './support/page.js';

/** The upload row whose label is exactly `label` (rows may sit in the list or the finished group). */
function rowOf(page: Page, label: string): Locator {
  return page.locator('li.upload').filter({ has: page.locator('.name').getByText(label, { exact: true }) });
}

async function waitDone(row: Locator): Promise<void> {
  await expect.poll(() => row.getAttribute('data-state'), { timeout: 60_000 }).toBe('done');
}

interface Stored {
  fileId: string;
  name: string;
  size: number;
  metadata: Record<string, string>;
  fileUrl: string;
}

/** What the server holds, through its HTTP API. */
async function storedFiles(env: PageFixture): Promise<Stored[]> {
  const r = await call(env.srv.server.url, 'GET', '/files?limit=1000');
  expect(r.status).toBe(200);
  return r.body.files as Stored[];
}

/** The stored file a done row links to. */
async function storedFor(env: PageFixture, row: Locator): Promise<Stored> {
  const href = await row.locator('a.download').getAttribute('href');
  const id = href!.split('/').pop();
  const found = (await storedFiles(env)).find((f) => f.fileId === id);
  expect(found, `stored file for ${href}`).toBeDefined();
  return found!;
}

/** Drags these paths (files and folders) from "the desktop" onto the page and drops them. */
async function dropPaths(page: Page, paths: string[]): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  const data = { items: [], files: paths, dragOperationsMask: 1 };
  for (const type of ['dragEnter', 'dragOver', 'drop'] as const) await cdp.send('Input.dispatchDragEvent', { type, x: 300, y: 200, data });
  await cdp.detach();
}

/** Whether an object URL still gives its image (a revoked one does not); loaded as an image, as the CSP allows. */
function readable(page: Page, url: string): Promise<boolean> {
  return page.evaluate(
    (u) =>
      new Promise<boolean>((resolve) => {
        const img = new Image();
        img.onload = () => resolve(true);
        img.onerror = () => resolve(false);
        img.src = u;
      }),
    url,
  );
}

/** A real PNG of random pixels (so each one differs), `side` pixels square. */
function png(side: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(side, 0);
  header.writeUInt32BE(side, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const rows = Buffer.concat(Array.from({ length: side }, () => Buffer.concat([Buffer.from([0]), randomBytes(side * 3)])));
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', header), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}

describe.skipIf(skipBrowser)('web page: folders, drops, paste, odd names, previews', () => {
  const env = pageFixture();

  it('"Choose folder…" uploads every file in the folder, its path inside kept in the metadata', async () => {
    const root = join(env.dir, 'picked', 'album');
    await mkdir(join(root, 'sub', 'deeper'), { recursive: true });
    const files = [
      await makeFile(root, 'a.txt', 1500),
      await makeFile(join(root, 'sub'), 'a.txt', 1500),
      await makeFile(join(root, 'sub', 'deeper'), 'c.bin', 70_000),
    ];
    // Two "a.txt" of the same size and time in two folders: only the path tells them apart.
    const when = new Date('2026-01-02T03:04:05Z');
    await utimes(files[0]!.path, when, when);
    await utimes(files[1]!.path, when, when);
    const { page, errors } = await openPage(env.browser, env.srv.url);
    await expect(page.getByRole('button', { name: 'Choose folder…' }).isVisible()).resolves.toBe(true);
    await page.locator('#folder-input').setInputFiles(root);

    const expected = [
      ['album/a.txt', files[0]!],
      ['album/sub/a.txt', files[1]!],
      ['album/sub/deeper/c.bin', files[2]!],
    ] as const;
    for (const [path, file] of expected) {
      const row = rowOf(page, path);
      await waitDone(row);
      const stored = await storedFor(env, row);
      expect(stored.name).toBe(file.name);
      expect(stored.metadata.relativePath).toBe(path);
      expect(await fetchDigest(stored.fileUrl)).toEqual({ sha256: file.sha256, size: file.size });
    }
    expect(await page.locator('li.upload').count()).toBe(3);
    expect(errors).toEqual([]);
  });

  it('an empty folder chosen, or dropped alone, is said to have no files', async () => {
    const empty = join(env.dir, 'void');
    await mkdir(empty, { recursive: true });
    const { page, errors } = await openPage(env.browser, env.srv.url);
    const notes = page.locator('#intake-notes');
    await page.locator('#folder-input').setInputFiles(empty);
    await expect.poll(() => notes.textContent()).toBe('Nothing to upload: the folder you chose has no files.');
    await page.evaluate(() => document.getElementById('intake-notes')!.replaceChildren());
    await dropPaths(page, [empty]);
    await expect.poll(() => notes.textContent()).toBe('Nothing to upload: the folder “void” has no files.');
    expect(await page.locator('li.upload').count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it('two same-named files in different folders resume each its own upload after a reload', async () => {
    const root = join(env.dir, 'resume-twins', 'twins');
    await mkdir(join(root, 'left'), { recursive: true });
    await mkdir(join(root, 'right'), { recursive: true });
    const left = await makeFile(join(root, 'left'), 'same.bin', 3 * MiB);
    const right = await makeFile(join(root, 'right'), 'same.bin', 3 * MiB);
    const when = new Date('2026-02-03T04:05:06Z');
    await utimes(left.path, when, when);
    await utimes(right.path, when, when);
    const { page, errors } = await openPage(env.browser, `${env.srv.url}?concurrency=1`);
    try {
      env.srv.throttle(1 * MiB);
      await page.locator('#folder-input').setInputFiles(root);
      // Both have a chunk on the server, and neither is finished.
      for (const label of ['twins/left/same.bin', 'twins/right/same.bin']) {
        await expect.poll(() => rowOf(page, label).locator('progress').evaluate((p: HTMLProgressElement) => p.value), { timeout: 60_000 }).toBeGreaterThanOrEqual(33);
      }
      await gotoReady(page);
    } finally {
      env.srv.throttle(0);
    }
    // Each is remembered on its own.
    await expect.poll(() => page.locator('#unfinished-list > li').count()).toBe(2);
    await page.locator('#folder-input').setInputFiles(root);
    for (const [label, file] of [
      ['twins/left/same.bin', left],
      ['twins/right/same.bin', right],
    ] as const) {
      const row = rowOf(page, label);
      await waitDone(row);
      await expect(row.locator('.message').textContent()).resolves.toMatch(/resumed/);
      const stored = await storedFor(env, row);
      expect(stored.metadata.relativePath).toBe(label);
      expect(await fetchDigest(stored.fileUrl)).toEqual({ sha256: file.sha256, size: file.size });
    }
    expect(errors).toEqual([]);
  });

  it('a drop of folders and loose files together uploads them all, and says what was left out', async () => {
    const at = join(env.dir, 'desk');
    await mkdir(join(at, 'photos', 'inner'), { recursive: true });
    await mkdir(join(at, 'photos', 'nothing-here', 'nor-here'), { recursive: true });
    await mkdir(join(at, 'empty'), { recursive: true });
    const x = await makeFile(join(at, 'photos'), 'x.txt', 2000);
    const y = await makeFile(join(at, 'photos', 'inner'), 'y.txt', 3000);
    const loose = await makeFile(at, 'loose.txt', 1000);
    const { page, errors } = await openPage(env.browser, env.srv.url);

    await dropPaths(page, [join(at, 'photos'), join(at, 'empty'), loose.path]);

    for (const [label, file, relativePath] of [
      ['loose.txt', loose, undefined],
      ['photos/x.txt', x, 'photos/x.txt'],
      ['photos/inner/y.txt', y, 'photos/inner/y.txt'],
    ] as const) {
      const row = rowOf(page, label);
      await waitDone(row);
      const stored = await storedFor(env, row);
      expect(stored.name).toBe(file.name);
      expect(stored.metadata.relativePath).toBe(relativePath);
      expect(await fetchDigest(stored.fileUrl)).toEqual({ sha256: file.sha256, size: file.size });
    }
    const notes = page.locator('#intake-notes');
    await expect(notes.getAttribute('role')).resolves.toBe('status');
    // The outermost empty folder is named once; its empty subfolder goes without saying.
    await expect(notes.textContent()).resolves.toContain('the folder “photos/nothing-here” has no files');
    await expect(notes.textContent()).resolves.toContain('the folder “empty” has no files');
    await expect(notes.textContent()).resolves.not.toContain('nor-here');
    expect(await page.locator('li.upload').count()).toBe(3);
    expect(errors).toEqual([]);
  });

  it('Ctrl/Cmd-V with an image on the clipboard uploads it', async () => {
    const { page, context, errors } = await openPage(env.browser, env.srv.url);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(env.srv.url).origin });
    const bytes = png(8);
    // A screenshot tool puts the picture on the clipboard as image/png; the browser pastes it as a file.
    await page.evaluate(async (data) => {
      await navigator.clipboard.write([new ClipboardItem({ 'image/png': new Blob([new Uint8Array(data)], { type: 'image/png' }) })]);
    }, [...bytes]);
    await page.locator('h1').click();
    await page.keyboard.press('ControlOrMeta+V');

    const row = rowOf(page, 'image.png');
    await waitDone(row);
    const stored = await storedFor(env, row);
    expect(stored.name).toBe('image.png');
    expect(stored.metadata.type).toBe('image/png');
    // The browser re-encodes what it pastes: the bytes are its, so the check is that they arrived whole.
    expect((await fetchDigest(stored.fileUrl)).size).toBe(stored.size);
    expect(errors).toEqual([]);
  });

  it('odd names get readable labels, and a name the server refuses is sent under one it accepts', async () => {
    const { page, errors } = await openPage(env.browser, env.srv.url);
    const long = `${'long-name-'.repeat(24)}end.txt`;
    await page.locator('#file-input').setInputFiles([
      { name: '   ', mimeType: 'text/plain', buffer: Buffer.from('only spaces') },
      { name: 'tab\there.txt', mimeType: 'text/plain', buffer: Buffer.from('a tab') },
      { name: long, mimeType: 'text/plain', buffer: Buffer.from('long') },
    ]);

    const blank = rowOf(page, '(unnamed file) “␣␣␣”');
    await waitDone(blank);
    await expect(blank.locator('.name-note').textContent()).resolves.toMatch(/^Stored as “unnamed file”\. A file name needs at least one visible character/);
    expect((await storedFor(env, blank)).name).toBe('unnamed file');
    // Its buttons and links are named after the label, never blank.
    for (const name of await blank.getByRole('button').evaluateAll((bs) => bs.map((b) => b.getAttribute('aria-label') ?? b.textContent))) {
      expect(name).toMatch(/unnamed file/);
    }

    const tab = rowOf(page, 'tab⟨U+0009⟩here.txt');
    await waitDone(tab);
    expect((await storedFor(env, tab)).name).toBe('tab here.txt');

    // Shortened in the middle, the whole name in its title; stored as it is (the server takes 255).
    const longRow = page.locator('li.upload').filter({ has: page.locator(`.name[title="${long}"]`) });
    await waitDone(longRow);
    const shown = (await longRow.locator('.name').textContent())!;
    expect(shown.length).toBeLessThanOrEqual(80);
    expect(shown).toMatch(/^long-name-.*….*end\.txt$/);
    expect((await storedFor(env, longRow)).name).toBe(long);

    // Every row has a visible label, and nothing on the page breaks WCAG A/AA (no blank link or button).
    for (const box of await page.locator('li.upload .name').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().width))) expect(box).toBeGreaterThan(20);
    expect(await axeViolations(page)).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('an image shows a preview (allowed by the CSP) and its object URL is revoked when the row goes', async () => {
    const { page, errors } = await openPage(env.browser, env.srv.url);
    await page.locator('#file-input').setInputFiles([
      { name: 'picture.png', mimeType: 'image/png', buffer: png(32) },
      { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('no picture') },
    ]);
    const row = rowOf(page, 'picture.png');
    const thumb = row.locator('img.thumb');
    await expect.poll(() => thumb.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(32);
    const src = (await thumb.getAttribute('src'))!;
    expect(src).toMatch(/^blob:/);
    expect(await thumb.getAttribute('alt')).toBe('');
    await expect(rowOf(page, 'notes.txt').locator('img').count()).resolves.toBe(0);
    expect(await readable(page, src)).toBe(true);

    await waitDone(row);
    await row.getByRole('button', { name: /^Dismiss/ }).click();
    await expect.poll(() => row.count()).toBe(0);
    await expect.poll(() => readable(page, src)).toBe(false);
    // A CSP without blob: in img-src would have logged a violation here.
    expect(errors).toEqual([]);
  });

  it('previews are made only for images scrolled into view (50 at once do not all decode)', async () => {
    const { page, errors } = await openPage(env.browser, env.srv.url);
    await page.locator('#review-first').check();
    await page.locator('#file-input').setInputFiles(Array.from({ length: 50 }, (_, i) => ({ name: `p${String(i).padStart(2, '0')}.png`, mimeType: 'image/png', buffer: png(16) })));
    const thumbs = page.locator('#review-list img.thumb');
    await expect.poll(() => thumbs.count()).toBe(50);
    await expect.poll(() => thumbs.first().getAttribute('src')).toMatch(/^blob:/);
    const withSource = () => thumbs.evaluateAll((imgs) => imgs.filter((i) => i.hasAttribute('src')).length);
    expect(await withSource()).toBeLessThan(50);
    await thumbs.last().scrollIntoViewIfNeeded();
    await expect.poll(() => thumbs.last().getAttribute('src')).toMatch(/^blob:/);

    const first = (await thumbs.first().getAttribute('src'))!;
    expect(await readable(page, first)).toBe(true);
    await page.getByRole('button', { name: 'Clear list' }).click();
    await expect.poll(() => readable(page, first)).toBe(false);
    expect(errors).toEqual([]);
  });
});
