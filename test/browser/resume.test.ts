// Reload the page midway: the page lists the unfinished upload, and choosing the same file again
// finishes it by sending only the chunks the server does not have (or Discard drops it).
import { describe, expect, it } from 'vitest';
import { MiB } from '../helpers/server.js';
import { skipBrowser } from './support/chromium.js';
import { pageFixture } from './support/fixture.js';
import { fetchDigest, makeFile } from './support/files.js';
import { chooseFiles, gotoReady, openPage, screenshot, uploadRow, waitForPercent, waitForState } from './support/page.js';
import { chunkSize } from './support/page-server.js';

describe.skipIf(skipBrowser)('web page: resume after a reload', () => {
  const env = pageFixture();

  it('a 64 MiB upload interrupted by a reload completes without resending acknowledged chunks', async () => {
    const file = await makeFile(env.dir, 'reload-64.bin', 64 * MiB);
    // One chunk at a time, and a slow link, so "midway" is a long, well-defined stretch.
    const concurrency = 1;
    const { page, errors } = await openPage(env.browser, `${env.srv.url}?concurrency=${concurrency}`);
    env.srv.throttle(16 * MiB);

    await chooseFiles(page, [file.path]);
    await waitForPercent(page, file.name, 30);
    await gotoReady(page); // reload: the upload's requests die with the page

    const unfinished = page.locator('#unfinished-list > li', { hasText: file.name });
    await unfinished.waitFor();
    await expect(unfinished.textContent()).resolves.toMatch(/select the same file again to resume.*\d+ % on the server/);
    expect(await page.locator('#uploads').isHidden()).toBe(true);
    await screenshot(page, 'resume-unfinished.png');

    env.srv.throttle(0);
    await chooseFiles(page, [file.path]);
    const row = uploadRow(page, file.name);
    await row.getByText(/^Resuming: .* were already on the server/).or(row.locator('[data-state="done"]')).first().waitFor();
    await unfinished.waitFor({ state: 'detached' });
    await waitForState(row, 'done');
    await expect(row.locator('.message').textContent()).resolves.toMatch(/^Uploaded \(resumed, .* sent this time\)/);

    // Acknowledged chunks were not sent again: the server read at most the file plus what was on
    // the wire when the page went away.
    expect(env.srv.bytesReceived()).toBeGreaterThanOrEqual(file.size);
    expect(env.srv.bytesReceived()).toBeLessThanOrEqual(file.size + concurrency * chunkSize);

    const href = await row.locator('a.download').getAttribute('href');
    expect(await fetchDigest(href!)).toEqual({ sha256: file.sha256, size: file.size });
    // Nothing is left to resume.
    expect(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('ferry:upload:')))).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('an unfinished upload can be discarded instead: the server drops it and the page forgets it', async () => {
    const file = await makeFile(env.dir, 'discard-16.bin', 16 * MiB);
    const { page, errors } = await openPage(env.browser, `${env.srv.url}?concurrency=1`);
    const aborted = env.srv.server.ctx.metrics.get('ferry_uploads_aborted_total');
    env.srv.throttle(8 * MiB);
    await chooseFiles(page, [file.path]);
    await waitForPercent(page, file.name, 10);
    await gotoReady(page);
    env.srv.throttle(0);

    const unfinished = page.locator('#unfinished-list > li', { hasText: file.name });
    await unfinished.getByRole('button', { name: `Discard ${file.name}` }).click();
    await unfinished.waitFor({ state: 'detached' });
    expect(await page.locator('#unfinished').isHidden()).toBe(true);
    expect(env.srv.server.ctx.metrics.get('ferry_uploads_aborted_total')).toBe(aborted + 1);
    expect(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('ferry:upload:')))).toEqual([]);
    expect(errors).toEqual([]);
  });
});
