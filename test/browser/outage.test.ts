// The server goes away midway (closed, then started again on the same port and data directory):
// the page says it is retrying, then finishes by itself; "Retry now" cuts the wait short; nothing
// claims chunks are moving while they wait; the file list says plainly that the server is out of
// reach and reloads itself once it is back.
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

    // Down for the file list too: the page says so in plain words instead of showing an empty list.
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.locator('#files-state', { hasText: /^Can't reach the server — retrying\./ }).waitFor();

    env.srv.throttle(0);
    await env.srv.start();
    await waitForState(row, 'done', 90_000);
    const href = await row.locator('a.download').getAttribute('href');
    expect(await fetchDigest(href!)).toEqual({ sha256: file.sha256, size: file.size });
    await page.locator('#files-list > li', { hasText: file.name }).waitFor();
    expect(await page.locator('#files-state').textContent()).toBe('');
    expect(errors).toEqual([]);
  });

  it('"Retry now" goes at once; nothing is "in flight" while waiting; the file list reloads itself when the server is back', async () => {
    const earlier = await makeFile(env.dir, 'earlier.txt', 5000);
    const file = await makeFile(env.dir, 'retry-now-64.bin', 64 * MiB);
    // One chunk at a time: one retry, whose countdown is the only thing that would wake it.
    const { page, errors } = await openPage(env.browser, `${env.srv.url}?concurrency=1`);
    await chooseFiles(page, [earlier.path]);
    await page.locator('#files-list > li', { hasText: earlier.name }).waitFor();
    env.srv.throttle(8 * MiB);
    await chooseFiles(page, [file.path]);
    const row = uploadRow(page, file.name);
    await waitForPercent(page, file.name, 10);

    await env.srv.stop();
    await page.getByRole('button', { name: 'Refresh' }).click();
    const listState = page.locator('#files-state');
    await listState.filter({ hasText: /^Can't reach the server — retrying\./ }).waitFor();
    expect(await listState.textContent()).not.toMatch(/https?:|fetch/i);
    await expect(listState.getAttribute('data-kind')).resolves.toBe('warning');

    // Backoff grows while the server stays down; wait for a countdown long enough to tell apart.
    const retryNow = row.getByRole('button', { name: `Retry now ${file.name}` });
    await retryNow.waitFor();
    await page.waitForFunction(
      (name) => {
        const li = [...document.querySelectorAll('#uploads-list > li')].find((l) => l.querySelector('.name')?.textContent === name);
        const m = /retrying in (\d+) s/.exec(li?.querySelector('.message')?.textContent ?? '');
        return m !== null && Number(m[1]) >= 8;
      },
      file.name,
      { timeout: 90_000, polling: 100 },
    );
    // Nothing is on the wire while the chunk waits for its retry.
    await expect(row.locator('.in-flight').textContent()).resolves.toBe('0 chunks in flight');
    await screenshot(page, 'outage-retry-now.png');

    await env.srv.start();
    const left = Number(/retrying in (\d+) s/.exec((await row.locator('.message').textContent()) ?? '')?.[1] ?? 0);
    expect(left).toBeGreaterThanOrEqual(4);
    const clicked = Date.now();
    await retryNow.click();
    await row.locator('.message', { hasText: /^Reconnected, continuing\.$/ }).waitFor({ timeout: (left - 1) * 1000 });
    expect(Date.now() - clicked).toBeLessThan((left - 1) * 1000);
    expect(await retryNow.count()).toBe(0);
    // Focus was on "Retry now", which is gone: it moved to the row's first button, not the page.
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe(`Pause ${file.name}`);

    // The list reloaded on its own while the upload still runs (not only once it ends).
    await page.waitForFunction(() => document.getElementById('files-state')?.textContent === '');
    expect(await row.getAttribute('data-state')).toBe('running');
    await page.locator('#files-list > li', { hasText: earlier.name }).waitFor();

    env.srv.throttle(0);
    await waitForState(row, 'done', 90_000);
    expect(errors).toEqual([]);
  });
});
