// The page's controls and messages: pause and resume, several files with an overall bar, drag and
// drop, cancel, a file over the server's limit, and the page at phone width driven by the keyboard.
import { existsSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MiB } from '../helpers/server.js';
import { skipBrowser } from './support/chromium.js';
import { pageFixture } from './support/fixture.js';
import { makeFile } from './support/files.js';
import { chooseFiles, openPage, percent, screenshot, uploadRow, waitForPercent, waitForState } from './support/page.js';
import { startPageServer } from './support/page-server.js';

describe.skipIf(skipBrowser)('web page: controls and messages', () => {
  const env = pageFixture();

  const stored = () => env.srv.server.ctx.metrics.get('ferry_chunks_stored_total');

  it('pause stops new chunks once those in flight finish; resume (by keyboard) completes', async () => {
    const file = await makeFile(env.dir, 'pause-32.bin', 32 * MiB);
    const { page, errors } = await openPage(env.browser, `${env.srv.url}?concurrency=2`);
    env.srv.throttle(8 * MiB);
    await chooseFiles(page, [file.path]);
    const row = uploadRow(page, file.name);
    await waitForPercent(page, file.name, 10);

    await row.getByRole('button', { name: `Pause ${file.name}` }).click();
    await row.locator('.message', { hasText: /^Paused$/ }).waitFor();
    await expect(row.locator('.in-flight').textContent()).resolves.toBe('0 chunks in flight');
    // Focus follows the toggle, so the keyboard can resume.
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Resume');
    const [storedAtPause, percentAtPause] = [stored(), await percent(row)];
    expect(percentAtPause).toBeLessThan(100);
    await screenshot(page, 'paused.png');
    // A round trip through the same link and server: anything still moving would have landed by now.
    await page.evaluate(() => fetch('files').then((r) => r.text()));
    expect(stored()).toBe(storedAtPause);
    expect(await percent(row)).toBe(percentAtPause);

    env.srv.throttle(0);
    await page.keyboard.press('Enter');
    await waitForState(row, 'done');
    expect(errors).toEqual([]);
  });

  it('several files at once: each has its bar, and an overall bar sums them', async () => {
    const files = await Promise.all([
      makeFile(env.dir, 'holiday-photos.zip', 6 * MiB),
      makeFile(env.dir, 'dataset-2026.parquet', 24 * MiB),
      makeFile(env.dir, 'screen-recording.mp4', 40 * MiB),
    ]);
    const { page, errors } = await openPage(env.browser, env.srv.url);
    env.srv.throttle(3 * MiB);
    await chooseFiles(page, files.map((f) => f.path));
    const overall = page.locator('#overall');
    await overall.waitFor();
    await expect(overall.locator('#overall-text').textContent()).resolves.toMatch(/of 3 files done/);
    await waitForState(uploadRow(page, files[0]!.name), 'done');
    await waitForPercent(page, files[2]!.name, 10);
    await overall.locator('#overall-text', { hasText: /^1 of 3 files done · .* MiB\/s · .* left$/ }).waitFor();
    const shot = await screenshot(page, 'several-files.png');
    // The README's picture: uploads in progress, one done, the server's files below. Written when
    // missing or asked for (UPDATE_SCREENSHOT=1), so test runs do not keep changing a committed file.
    const readmeShot = resolve(import.meta.dirname, '../../docs/screenshot.png');
    if (process.env.UPDATE_SCREENSHOT === '1' || !existsSync(readmeShot)) await copyFile(shot, readmeShot);

    env.srv.throttle(0);
    for (const f of files) await waitForState(uploadRow(page, f.name), 'done');
    await overall.locator('#overall-text', { hasText: /^3 of 3 files done · 70\.0 MiB of 70\.0 MiB \(100 %\)$/ }).waitFor();
    expect(await overall.locator('progress').evaluate((el) => (el as HTMLProgressElement).value)).toBe(100);
    expect(errors).toEqual([]);
  });

  it('files dropped on the page upload', async () => {
    const { page, errors } = await openPage(env.browser, env.srv.url);
    // A drop as the browser delivers it: dragenter, dragover, drop, with files made in the page.
    await page.evaluate(() => {
      const files = new DataTransfer();
      files.items.add(new File([new Uint8Array(3 << 20).fill(7)], 'dropped.bin'));
      const zone = document.getElementById('drop-zone')!;
      for (const type of ['dragenter', 'dragover']) zone.dispatchEvent(new DragEvent(type, { dataTransfer: files, bubbles: true, cancelable: true }));
      (window as unknown as { highlighted: boolean }).highlighted = zone.classList.contains('dragging');
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: files, bubbles: true, cancelable: true }));
    });
    expect(await page.evaluate(() => (window as unknown as { highlighted: boolean }).highlighted)).toBe(true);
    expect(await page.locator('#drop-zone').getAttribute('class')).toBe('drop-zone');
    await waitForState(uploadRow(page, 'dropped.bin'), 'done');
    expect(errors).toEqual([]);
  });

  it('cancel removes the upload from the server and from the resume list', async () => {
    const file = await makeFile(env.dir, 'cancel-32.bin', 32 * MiB);
    const { page, errors } = await openPage(env.browser, env.srv.url);
    const aborted = env.srv.server.ctx.metrics.get('ferry_uploads_aborted_total');
    env.srv.throttle(8 * MiB);
    await chooseFiles(page, [file.path]);
    const row = uploadRow(page, file.name);
    await waitForPercent(page, file.name, 10);
    await row.getByRole('button', { name: `Cancel ${file.name}` }).click();
    await waitForState(row, 'cancelled');
    env.srv.throttle(0);
    await expect(row.locator('.message').textContent()).resolves.toMatch(/^Cancelled\. /);
    expect(env.srv.server.ctx.metrics.get('ferry_uploads_aborted_total')).toBe(aborted + 1);
    expect(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('ferry:upload:')))).toEqual([]);
    await row.getByRole('button', { name: `Dismiss ${file.name}` }).click();
    await row.waitFor({ state: 'detached' });
    expect(errors).toEqual([]);
  });

  it("a file over the server's limit shows the server's reason", async () => {
    const small = await startPageServer({ maxFileSize: 2 * MiB });
    try {
      const file = await makeFile(env.dir, 'too-big.bin', 3 * MiB);
      const { page, errors } = await openPage(env.browser, small.url);
      await chooseFiles(page, [file.path]);
      const row = uploadRow(page, file.name);
      await waitForState(row, 'failed');
      const message = row.locator('.message');
      expect(await message.getAttribute('role')).toBe('alert');
      // The engine checks the size against the server's advertised limit before sending anything.
      await expect(message.textContent()).resolves.toMatch(/^The server refused this file: .*\b2097152\b/);
      // Trying again cannot help, so only Dismiss is offered.
      expect(await row.getByRole('button').allTextContents()).toEqual(['Dismiss']);
      await screenshot(page, 'too-large.png');
      expect(errors).toEqual([]);
    } finally {
      await small.dispose();
    }
  });

  it('works at phone width with the keyboard alone', async () => {
    const file = await makeFile(env.dir, 'phone-note.txt', 2 * MiB);
    const { page, errors } = await openPage(env.browser, env.srv.url, { width: 360 });
    await page.bringToFront(); // a file dialog opens only from the focused tab
    // Listening first: Playwright starts intercepting file dialogs when a listener is added, and that
    // must be in place before the key press opens one (listening in parallel loses the dialog at times).
    const chooser = page.waitForEvent('filechooser');
    await page.keyboard.press('Tab'); // the skip link
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('choose-files');
    await page.keyboard.press('Enter');
    await (await chooser).setFiles(file.path);
    await waitForState(uploadRow(page, file.name), 'done');
    // Nothing sticks out sideways.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await screenshot(page, 'phone.png');
    expect(errors).toEqual([]);
  });
});
