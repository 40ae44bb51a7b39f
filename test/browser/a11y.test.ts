// axe-core on the page at WCAG 2.1 A/AA, in light and dark mode, in each state a person meets: empty,
// mid-upload, paused, the server unreachable, and done (a batch too, folded and unfolded), with the
// page's CSP as served. And the page's grey text reaches 7:1 (AAA), not only the 4.5:1 of AA.
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { MiB } from '../helpers/server.js';
import { axeViolations, textContrast } from './support/axe.js';
import { skipBrowser } from './support/chromium.js';
import { pageFixture } from './support/fixture.js';
import { makeFile } from './support/files.js';
import { chooseFiles, openPage, uploadRow, waitForPercent, waitForState } from './support/page.js';

/** No violations in light or dark mode; the page is left in light mode. */
async function expectAccessible(page: Page, state: string): Promise<void> {
  for (const colorScheme of ['light', 'dark'] as const) {
    // Reduced motion: the page then has no transitions, so colours are final the moment the scheme changes.
    await page.emulateMedia({ colorScheme, reducedMotion: 'reduce' });
    const violations = await axeViolations(page);
    expect(violations, `${state}, ${colorScheme} mode: ${JSON.stringify(violations, null, 1)}`).toEqual([]);
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

/** The page's muted ("grey") text: sizes, dates, numbers, hints, tagline. */
const greyText = '.tagline, .size, .date, .stats > span:not(.percent), .hint, .drop-zone p, .copy-note, #finished > summary';

describe.skipIf(skipBrowser)('web page: accessibility (axe-core, WCAG 2.1 A/AA)', () => {
  const env = pageFixture();

  it('grey text reaches 7:1 against its background, in light and dark mode', async () => {
    const file = await makeFile(env.dir, 'contrast.bin', 3 * MiB);
    const { page, errors } = await openPage(env.browser, env.srv.url);
    env.srv.throttle(1 * MiB);
    await chooseFiles(page, [file.path]);
    await waitForPercent(page, file.name, 5);
    for (const colorScheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme, reducedMotion: 'reduce' });
      const measured = await textContrast(page, greyText);
      expect(measured.length).toBeGreaterThan(3);
      const low = measured.filter((m) => m.ratio < 7);
      expect(low, `${colorScheme} mode`).toEqual([]);
    }
    env.srv.throttle(0);
    await waitForState(uploadRow(page, file.name), 'done');
    expect(errors).toEqual([]);
  });

  it('empty, mid-upload, paused, outage and done: no violations, with the CSP intact', async () => {
    // The CSP that axe has to live with: scripts only from the page's own origin.
    const served = await fetch(env.srv.url);
    expect(served.headers.get('content-security-policy')).toContain("script-src 'self'");

    const file = await makeFile(env.dir, 'quarterly-report.pdf', 32 * MiB);
    const small = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((n) => makeFile(env.dir, `scan-${n}.png`, 4000)));
    const { page, errors } = await openPage(env.browser, `${env.srv.url}?concurrency=2`);
    await expectAccessible(page, 'empty');

    env.srv.throttle(4 * MiB);
    await chooseFiles(page, [file.path]);
    const row = uploadRow(page, file.name);
    await waitForPercent(page, file.name, 5);
    await expectAccessible(page, 'mid-upload');

    await row.getByRole('button', { name: `Pause ${file.name}` }).click();
    await row.locator('.message', { hasText: /^Paused$/ }).waitFor();
    await expectAccessible(page, 'paused');

    await row.getByRole('button', { name: `Resume ${file.name}` }).click();
    await env.srv.stop();
    await row.getByRole('button', { name: `Retry now ${file.name}` }).waitFor();
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.locator('#files-state', { hasText: /^Can't reach the server/ }).waitFor();
    await expectAccessible(page, 'outage');

    env.srv.throttle(0);
    await env.srv.start();
    // Gone already if the countdown ran out meanwhile and the retry went by itself.
    await row
      .getByRole('button', { name: `Retry now ${file.name}` })
      .click({ timeout: 2000 })
      .catch(() => undefined);
    await waitForState(row, 'done', 90_000);
    await expectAccessible(page, 'done');

    // A batch: finished rows folded into the summary, then unfolded.
    await chooseFiles(page, small.map((f) => f.path));
    for (const f of small) await waitForState(uploadRow(page, f.name), 'done');
    await page.locator('#finished > summary').waitFor();
    await expectAccessible(page, 'batch done, folded');
    await page.locator('#finished > summary').click();
    await expectAccessible(page, 'batch done, unfolded');
    expect(errors).toEqual([]);
  });
});
