// The server goes away midway (closed, then started again on the same port and data directory):
// the page says it is retrying, then finishes by itself. With the server down, the file list says so.
import { describe, expect, it } from 'vitest';
import { MiB } from '../helpers/server.js';
import { skipBrowser } from './support/chromium.js';
import { pageFixture } from './support/fixture.js';
import { fetchDigest, makeFile } from './support/files.js';
import { chooseFiles, openPage, screenshot, uploadRow, waitForPercent, waitForState } from './support/page.js';

describe.skipIf(skipBrowser)('web page: server outage', () => {
  const env = pageFixture();

  it('retries while the server is down, says so, and completes when it is back', async () => {
    const file = await makeFile(env.dir, 'outage-64.bin', 64 * MiB);
    const { page, errors } = await openPage(env.browser, `${env.srv.url}?concurrency=2`);
    env.srv.throttle(8 * MiB);
    await chooseFiles(page, [file.path]);
    const row = uploadRow(page, file.name);
    await waitForPercent(page, file.name, 20);

    await env.srv.stop();
    const retrying = row.locator('.message', { hasText: /^Connection lost, retrying (in \d+ s|now)…$/ });
    await retrying.waitFor();
    expect(await row.locator('.message').getAttribute('data-kind')).toBe('warning');
    await screenshot(page, 'outage-retrying.png');

    // Down for the file list too: the page says so instead of showing an empty list.
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.locator('#files-state', { hasText: /^Could not load the file list\. / }).waitFor();

    env.srv.throttle(0);
    await env.srv.start();
    await waitForState(row, 'done', 90_000);
    const href = await row.locator('a.download').getAttribute('href');
    expect(await fetchDigest(href!)).toEqual({ sha256: file.sha256, size: file.size });
    await page.locator('#files-list > li', { hasText: file.name }).waitFor();
    expect(await page.locator('#files-state').textContent()).toBe('');
    expect(errors).toEqual([]);
  });
});
