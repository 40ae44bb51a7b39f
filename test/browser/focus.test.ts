// Focus never falls to the page when what held it goes away: after Dismiss (an upload) or Discard (an
// unfinished one) it moves to the next row, or a heading when none is left. And every file's buttons
// say which file they are for.
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { MiB } from '../helpers/server.js';
import { skipBrowser } from './support/chromium.js';
import { pageFixture } from './support/fixture.js';
import { makeFile } from './support/files.js';
import { chooseFiles, gotoReady, openPage, uploadRow, waitForPercent, waitForState } from './support/page.js';

/** The focused element: its tag, its accessible label or text, and the file row (if any) it is in. */
function focused(page: Page): Promise<{ tag: string; text: string; row: string | null }> {
  return page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    return {
      tag: el?.tagName ?? '',
      text: el?.getAttribute('aria-label') ?? el?.textContent ?? '',
      row: el?.closest('li')?.querySelector('.name')?.textContent ?? null,
    };
  });
}

describe.skipIf(skipBrowser)('web page: focus and names', () => {
  const env = pageFixture();

  it('Dismiss moves focus to the next row, and from the last to a heading; buttons name their file', async () => {
    const files = await Promise.all([makeFile(env.dir, 'agenda.txt', 1200), makeFile(env.dir, 'minutes.txt', 2400)]);
    const { page, errors } = await openPage(env.browser, env.srv.url);
    await chooseFiles(page, files.map((f) => f.path));
    for (const f of files) await waitForState(uploadRow(page, f.name), 'done');

    // Names that say which file: read alone (a screen reader's list of buttons), each is unambiguous.
    for (const f of files) {
      const row = uploadRow(page, f.name);
      await expect(row.getByRole('button', { name: `Copy link to ${f.name}`, exact: true }).count()).resolves.toBe(1);
      await expect(row.getByRole('link', { name: `Download ${f.name}`, exact: true }).count()).resolves.toBe(1);
      const listed = page.locator('#files-list > li', { hasText: f.name });
      await listed.waitFor();
      await expect(listed.getByRole('button', { name: `Copy link to ${f.name}`, exact: true }).count()).resolves.toBe(1);
      await expect(listed.getByRole('button', { name: `Delete ${f.name}`, exact: true }).count()).resolves.toBe(1);
    }

    const order = await page.locator('#uploads-list > li .name').allTextContents();
    expect(order.sort()).toEqual(files.map((f) => f.name).sort());
    const [first, second] = await page.locator('#uploads-list > li .name').allTextContents();
    await page.getByRole('button', { name: `Dismiss ${first}`, exact: true }).focus();
    await page.keyboard.press('Enter');
    await uploadRow(page, first!).waitFor({ state: 'detached' });
    expect((await focused(page)).row).toBe(second);

    await page.getByRole('button', { name: `Dismiss ${second}`, exact: true }).focus();
    await page.keyboard.press('Enter');
    await uploadRow(page, second!).waitFor({ state: 'detached' });
    // No upload left, so the section is gone: focus goes to the next section's heading.
    expect(await page.locator('#uploads').isHidden()).toBe(true);
    expect(await focused(page)).toEqual({ tag: 'H2', text: 'Files on this server', row: null });
    expect(errors).toEqual([]);
  });

  it('Discard moves focus to the next unfinished upload, and from the last to a heading', async () => {
    const files = await Promise.all([makeFile(env.dir, 'draft-a.bin', 16 * MiB), makeFile(env.dir, 'draft-b.bin', 16 * MiB)]);
    const { page, errors } = await openPage(env.browser, `${env.srv.url}?concurrency=1`);
    env.srv.throttle(4 * MiB);
    await chooseFiles(page, files.map((f) => f.path));
    for (const f of files) await waitForPercent(page, f.name, 5);
    await gotoReady(page); // the uploads stop with the page: both are unfinished now
    env.srv.throttle(0);

    const rows = page.locator('#unfinished-list > li');
    await expect.poll(() => rows.count()).toBe(2);
    const [first, second] = await rows.locator('.name').allTextContents();
    await page.getByRole('button', { name: `Discard ${first}`, exact: true }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => rows.count()).toBe(1);
    expect(await focused(page)).toEqual({ tag: 'BUTTON', text: `Discard ${second}`, row: second });

    await page.keyboard.press('Enter');
    await page.locator('#unfinished').waitFor({ state: 'hidden' });
    expect(await focused(page)).toEqual({ tag: 'H2', text: 'Files on this server', row: null });
    expect(errors).toEqual([]);
  });
});
