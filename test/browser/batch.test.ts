// A real batch: 50 files at once, one large and slow, the rest small. Finished rows fold into a
// summary so the one still running stays in view; the overall bar sticks while the list scrolls; the
// actions on all uploads (pause, resume, cancel, clear finished) do what they say.
import { existsSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MiB } from '../helpers/server.js';
import { skipBrowser } from './support/chromium.js';
import { pageFixture } from './support/fixture.js';
import { makeFile } from './support/files.js';
import { chooseFiles, openPage, screenshot, uploadRow, waitForPercent, waitForState } from './support/page.js';

const viewport = { width: 900, height: 900 };

describe.skipIf(skipBrowser)('web page: a batch of many files', () => {
  const env = pageFixture();

  it('50 files: finished rows fold away, the running one stays in view, batch actions work', async () => {
    const big = await makeFile(env.dir, 'site-backup.tar', 48 * MiB);
    const small = await Promise.all(Array.from({ length: 49 }, (_, i) => makeFile(env.dir, `photo-${String(i + 1).padStart(2, '0')}.jpg`, 20_000 + i * 997)));
    const { page, errors } = await openPage(env.browser, env.srv.url);
    const stored = () => env.srv.server.ctx.metrics.get('ferry_chunks_stored_total');
    // Slow enough that the large file is still going long after the small ones are done.
    env.srv.throttle(1 * MiB);
    await chooseFiles(page, [big.path, ...small.map((f) => f.path)]);

    // Every small file done: all folded into the summary, the large one on top of the list.
    await page.waitForFunction(() => document.querySelectorAll('#finished-list > li[data-state="done"]').length === 49, undefined, { timeout: 120_000 });
    const running = uploadRow(page, big.name);
    expect(await running.getAttribute('data-state')).toBe('running');
    await expect(page.locator('#finished > summary').innerText()).resolves.toBe('49 uploaded · show');
    expect(await page.locator('#uploads-list > li').count()).toBe(1);
    expect(await page.locator('#finished-list').isVisible()).toBe(false);
    // The running row is on screen without scrolling, and the uploads take less than a screen.
    await page.evaluate(() => window.scrollTo(0, 0));
    const box = await running.boundingBox();
    expect(box).not.toBeNull();
    expect(box!.y).toBeGreaterThanOrEqual(0);
    expect(box!.y + box!.height).toBeLessThanOrEqual(viewport.height);
    const uploadsHeight = (await page.locator('#uploads').boundingBox())!.height;
    expect(uploadsHeight).toBeLessThan(viewport.height * 0.6);
    await waitForPercent(page, big.name, 5);
    await page.locator('#overall-text', { hasText: /^49 of 50 files done · .* left$/ }).waitFor();
    const shot = await screenshot(page, 'batch-50.png', { fullPage: false });
    // A README picture: written when missing or asked for (UPDATE_SCREENSHOT=1), like docs/screenshot.png.
    const readmeShot = resolve(import.meta.dirname, '../../docs/screenshot-batch.png');
    if (process.env.UPDATE_SCREENSHOT === '1' || !existsSync(readmeShot)) await copyFile(shot, readmeShot);

    // Expanded, the list is long; scrolled through it, the overall bar and batch actions stay in view.
    await page.locator('#finished > summary').click();
    await expect(page.locator('#finished > summary').innerText()).resolves.toBe('49 uploaded · hide');
    await page.evaluate(() => document.querySelector('#finished-list > li:nth-child(30)')!.scrollIntoView({ block: 'center' }));
    expect(await page.evaluate(() => window.scrollY)).toBeGreaterThan(1000);
    const bar = (await page.locator('#uploads-bar').boundingBox())!;
    expect(bar.y).toBeGreaterThanOrEqual(0);
    expect(bar.y).toBeLessThan(5);
    await expect(page.locator('#overall-bar').isVisible()).resolves.toBe(true);
    await screenshot(page, 'batch-50-expanded.png', { fullPage: false });

    // Pause all: every running upload pauses and nothing more is stored.
    const actions = page.getByRole('group', { name: 'All uploads' });
    expect(await actions.getByRole('button').allTextContents()).toEqual(['Pause all', 'Cancel all', 'Clear finished']);
    await actions.getByRole('button', { name: 'Pause all' }).click();
    await running.locator('.message', { hasText: /^Paused$/ }).waitFor();
    await expect(running.locator('.in-flight').textContent()).resolves.toBe('0 chunks in flight');
    expect(await page.locator('#uploads-list > li[data-state="running"], #uploads-list > li[data-state="starting"]').count()).toBe(0);
    expect(await actions.getByRole('button').allTextContents()).toEqual(['Resume all', 'Cancel all', 'Clear finished']);
    // Focus did not fall to the page: the pressed button went, so focus is on the next action.
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Resume all');
    const storedAtPause = stored();
    await page.evaluate(() => fetch('files').then((r) => r.text()));
    expect(stored()).toBe(storedAtPause);

    // Clear finished: the 49 done rows go, the paused one stays.
    await actions.getByRole('button', { name: 'Clear finished' }).click();
    await expect(page.locator('#finished-list > li').count()).resolves.toBe(0);
    expect(await page.locator('#finished').isVisible()).toBe(false);
    expect(await page.locator('#uploads li[data-state="done"]').count()).toBe(0);
    expect(await page.locator('#uploads-list > li').count()).toBe(1);
    // One upload left: nothing to do "on all".
    expect(await actions.isVisible()).toBe(false);

    // Resume (the row's own button now) and finish at full speed.
    env.srv.throttle(0);
    await running.getByRole('button', { name: `Resume ${big.name}` }).click();
    await waitForState(running, 'done');
    expect(errors).toEqual([]);
  });

  it('Cancel all cancels every upload in progress after asking; finished ones are left alone', async () => {
    const files = await Promise.all([
      makeFile(env.dir, 'tiny-done.txt', 1000),
      ...['slow-a.bin', 'slow-b.bin', 'slow-c.bin', 'slow-d.bin'].map((n) => makeFile(env.dir, n, 24 * MiB)),
    ]);
    const { page, errors } = await openPage(env.browser, env.srv.url);
    await chooseFiles(page, [files[0]!.path]);
    await waitForState(uploadRow(page, files[0]!.name), 'done');
    env.srv.throttle(2 * MiB);
    await chooseFiles(page, files.slice(1).map((f) => f.path));
    for (const f of files.slice(1)) await waitForState(uploadRow(page, f.name), 'running');
    // Five rows: the finished one is folded away.
    await expect(page.locator('#finished > summary').innerText()).resolves.toBe('1 uploaded · show');

    let asked = '';
    page.once('dialog', (d) => {
      asked = d.message();
      void d.accept();
    });
    await page.getByRole('button', { name: 'Cancel all' }).click();
    expect(asked).toMatch(/^Cancel all 4 uploads in progress\?/);
    for (const f of files.slice(1)) await waitForState(uploadRow(page, f.name), 'cancelled');
    env.srv.throttle(0);
    expect(await uploadRow(page, files[0]!.name).getAttribute('data-state')).toBe('done');
    await expect(page.locator('#finished > summary').innerText()).resolves.toBe('1 uploaded, 4 cancelled · show');
    expect(await page.getByRole('button', { name: 'Cancel all' }).isVisible()).toBe(false);
    await page.getByRole('button', { name: 'Clear finished' }).click();
    await expect(page.locator('#uploads').isVisible()).resolves.toBe(false);
    expect(errors).toEqual([]);
  });

  it('speeds are rounded; an empty or instant file gets none', async () => {
    const [empty, tiny, slow] = await Promise.all([makeFile(env.dir, 'empty.txt', 0), makeFile(env.dir, 'tiny.txt', 200), makeFile(env.dir, 'slow-3.bin', 3 * MiB)]);
    // Two chunks at a time at 1 MiB/s each: the 3 MiB file takes over a second, long enough to have a speed.
    const { page, errors } = await openPage(env.browser, `${env.srv.url}?concurrency=2`);
    await chooseFiles(page, [empty.path, tiny.path]);
    for (const f of [empty, tiny]) {
      const row = uploadRow(page, f.name);
      await waitForState(row, 'done');
      await expect(row.locator('.message').textContent()).resolves.toBe('Uploaded.');
    }
    env.srv.throttle(1 * MiB);
    await chooseFiles(page, [slow.path]);
    const row = uploadRow(page, slow.name);
    await waitForState(row, 'done');
    env.srv.throttle(0);
    await expect(row.locator('.message').textContent()).resolves.toMatch(/^Uploaded \(\d+ s, \d+(\.\d)? (KiB|MiB)\/s\)\.$/);
    expect(errors).toEqual([]);
  });
});
