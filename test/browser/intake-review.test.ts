// Choosing files on the page, in real Chromium: the same file chosen again is recognised (no second
// row; "already uploading" / "already uploaded" with its link), "Review files before uploading" holds
// files in a list until "Upload N files" (remembered across reloads), and touch screens are told to
// choose files rather than drag them.
import type { Locator, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { MiB } from '../helpers/server.js';
import { axeViolations } from './support/axe.js';
import { skipBrowser } from './support/chromium.js';
import { pageFixture } from './support/fixture.js';
import { makeFile } from './support/files.js';
import { chooseFiles, closePages, gotoReady, openPage, waitForPercent } from './support/page.js';

function rowOf(page: Page, label: string): Locator {
  return page.locator('li.upload').filter({ has: page.locator('.name').getByText(label, { exact: true }) });
}

async function waitDone(row: Locator): Promise<void> {
  await expect.poll(() => row.getAttribute('data-state'), { timeout: 60_000 }).toBe('done');
}

describe.skipIf(skipBrowser)('web page: repeats, review before upload, touch wording', () => {
  const env = pageFixture();

  it('a file chosen again while it uploads, or once it is uploaded, gets no second row', async () => {
    const file = await makeFile(env.dir, 'twice.bin', 8 * MiB);
    const { page, errors } = await openPage(env.browser, `${env.srv.url}?concurrency=1`);
    const notes = page.locator('#intake-notes');
    try {
      // Slow enough that the second choice lands while the first upload is still running.
      env.srv.throttle(1 * MiB);
      await chooseFiles(page, [file.path]);
      await waitForPercent(page, file.name, 1);
      await chooseFiles(page, [file.path]);
      await expect.poll(() => notes.textContent()).toBe('“twice.bin” is already uploading.');
      expect(await rowOf(page, file.name).count()).toBe(1);
    } finally {
      env.srv.throttle(0);
    }

    const row = rowOf(page, file.name);
    await waitDone(row);
    const href = await row.locator('a.download').getAttribute('href');
    await chooseFiles(page, [file.path]);
    await expect.poll(() => notes.textContent()).toMatch(/^“twice\.bin” is already uploaded\./);
    expect(await axeViolations(page)).toEqual([]);
    // Its link, the same as the row's.
    expect(await notes.locator('a').first().getAttribute('href')).toBe(href);
    expect(await rowOf(page, file.name).count()).toBe(1);

    // Dismissed, it is a new choice again (to send the same file once more on purpose).
    await row.getByRole('button', { name: /^Dismiss/ }).click();
    await expect.poll(() => row.count()).toBe(0);
    await chooseFiles(page, [file.path]);
    await waitDone(rowOf(page, file.name));
    expect(await rowOf(page, file.name).count()).toBe(1);
    expect(errors).toEqual([]);
  });

  it('"Review files before uploading": files wait in a list, each removable, until "Upload N files"; the choice is remembered', async () => {
    const files = await Promise.all(['r1.txt', 'r2.txt', 'r3.txt', 'r4.txt'].map((n) => makeFile(env.dir, n, 1000)));
    const { page, errors } = await openPage(env.browser, env.srv.url);
    const option = page.getByRole('checkbox', { name: 'Review files before uploading' });
    await expect(option.isChecked()).resolves.toBe(false);
    await option.check();

    await chooseFiles(page, files.slice(0, 3).map((f) => f.path));
    const review = page.locator('#review');
    const entries = page.locator('#review-list > li');
    await expect.poll(() => entries.count()).toBe(3);
    expect(await page.locator('li.upload').count()).toBe(0);
    const send = page.locator('#review-upload');
    await expect(send.textContent()).resolves.toBe('Upload 3 files');

    // Choosing one of them again does not list it twice.
    await chooseFiles(page, [files[0]!.path]);
    await expect.poll(() => page.locator('#intake-notes').textContent()).toBe('“r1.txt” is already in the list to upload.');
    expect(await entries.count()).toBe(3);
    expect(await axeViolations(page)).toEqual([]);

    await page.getByRole('button', { name: 'Remove r2.txt' }).click();
    await expect.poll(() => entries.count()).toBe(2);
    // Focus moves to the next entry's button, not lost with the removed row.
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('Remove r3.txt');
    await expect(send.textContent()).resolves.toBe('Upload 2 files');
    await send.click();
    await waitDone(rowOf(page, 'r1.txt'));
    await waitDone(rowOf(page, 'r3.txt'));
    expect(await rowOf(page, 'r2.txt').count()).toBe(0);
    expect(await review.isHidden()).toBe(true);

    // Clear empties the list and uploads nothing.
    await chooseFiles(page, [files[3]!.path]);
    await expect.poll(() => entries.count()).toBe(1);
    await page.getByRole('button', { name: 'Clear list' }).click();
    expect(await review.isHidden()).toBe(true);
    expect(await rowOf(page, 'r4.txt').count()).toBe(0);

    // Remembered in this browser; switched off, files upload at once as before.
    await gotoReady(page);
    await expect(option.isChecked()).resolves.toBe(true);
    await option.uncheck();
    await chooseFiles(page, [files[3]!.path]);
    await waitDone(rowOf(page, 'r4.txt'));
    expect(await review.isHidden()).toBe(true);
    await gotoReady(page);
    await expect(option.isChecked()).resolves.toBe(false);
    expect(errors).toEqual([]);
  });

  it('a touch screen is told to choose files, a mouse to drag them', async () => {
    const { page } = await openPage(env.browser, env.srv.url);
    await expect(page.locator('#drop-zone .with-mouse').isVisible()).resolves.toBe(true);
    await expect(page.locator('#drop-zone .touch-only').isVisible()).resolves.toBe(false);
    await closePages();

    const phone = await env.browser.newContext({ viewport: { width: 390, height: 800 }, isMobile: true, hasTouch: true });
    try {
      const touch = await phone.newPage();
      await gotoReady(touch, env.srv.url);
      expect(await touch.evaluate(() => matchMedia('(pointer: coarse)').matches)).toBe(true);
      await expect(touch.locator('#drop-zone .with-mouse').isVisible()).resolves.toBe(false);
      await expect(touch.locator('#drop-zone .touch-only').textContent()).resolves.toBe('Choose files or a folder to send.');
      await expect(touch.locator('#drop-zone .touch-only').isVisible()).resolves.toBe(true);
      await expect(touch.locator('#drop-zone').textContent()).resolves.toContain('Drag'); // in the page, not shown
    } finally {
      await phone.close();
    }
  });
});
