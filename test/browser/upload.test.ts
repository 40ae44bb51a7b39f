// The page, end to end in Chromium: a 64 MiB file chosen with the picker uploads with a moving progress
// bar, the download link serves the same bytes, the file list and copy-link work.
import { describe, expect, it } from 'vitest';
import { MiB } from '../helpers/server.js';
import { skipBrowser } from './support/chromium.js';
import { pageFixture } from './support/fixture.js';
import { fetchDigest, makeFile } from './support/files.js';
import { chooseFiles, openPage, percent, screenshot, uploadRow, waitForPercent, waitForState } from './support/page.js';

describe.skipIf(skipBrowser)('web page: upload with the file picker', () => {
  const env = pageFixture();

  it('uploads 64 MiB; the bar advances; the download link serves identical bytes', async () => {
    const file = await makeFile(env.dir, 'big-64.bin', 64 * MiB);
    const { page, context, errors } = await openPage(env.browser, env.srv.url);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(env.srv.url).origin });
    // Every value the bar takes, recorded by the page itself, so no intermediate state can be missed.
    await page.evaluate(() => {
      const seen: number[] = ((window as unknown as { barValues: number[] }).barValues = []);
      new MutationObserver(() => {
        const bar = document.querySelector<HTMLProgressElement>('#uploads-list progress');
        if (bar && seen.at(-1) !== bar.value) seen.push(bar.value);
      }).observe(document.getElementById('uploads-list')!, { subtree: true, childList: true, attributes: true });
    });
    // Slow enough (each connection 12 MiB/s) that "mid-upload" is a state the test can see.
    env.srv.throttle(12 * MiB);

    await chooseFiles(page, [file.path]);
    const row = uploadRow(page, file.name);
    await waitForPercent(page, file.name, 20);
    await expect.poll(() => row.locator('.stats').textContent()).toMatch(/MiB\/s.*left.*in flight/);
    await screenshot(page, 'upload-mid.png');
    // Chunks are hashed in the page's worker, not on the page's thread.
    expect(page.workers().map((w) => w.url())).toEqual([`${env.srv.url}worker.js`]);

    env.srv.throttle(0);
    await waitForState(row, 'done');
    await expect(row.locator('.message').textContent()).resolves.toMatch(/^Uploaded/);
    expect(await percent(row)).toBe(100);
    const values = await page.evaluate(() => (window as unknown as { barValues: number[] }).barValues);
    expect(values.length).toBeGreaterThan(3);
    expect(values).toEqual([...values].sort((a, b) => a - b)); // never goes backwards
    expect(values.some((v) => v > 0 && v < 100)).toBe(true);
    expect(values.at(-1)).toBe(100);

    const href = await row.locator('a.download').getAttribute('href');
    expect(href).toBeTruthy();
    expect(await fetchDigest(href!)).toEqual({ sha256: file.sha256, size: file.size });

    // The file list shows it, with the same link; copy-link puts the link on the clipboard.
    const listed = page.locator('#files-list > li', { hasText: file.name });
    await listed.waitFor();
    expect(await listed.locator('a').getAttribute('href')).toBe(href);
    await expect(listed.textContent()).resolves.toContain('64.0 MiB');
    await row.getByRole('button', { name: 'Copy link' }).click();
    await row.getByText('Link copied').waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(href);

    await screenshot(page, 'upload-done.png');
    expect(errors).toEqual([]);
  });
});
