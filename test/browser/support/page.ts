// Driving the page: open it (failing on script errors and CSP violations), find an upload's row,
// read its progress, choose files, save screenshots.
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';

export const artifactsDir = resolve(import.meta.dirname, '../../../test-artifacts');

export interface OpenedPage {
  page: Page;
  context: BrowserContext;
  /** Uncaught errors and console errors seen so far (CSP violations are console errors). */
  errors: string[];
}

const open = new Set<BrowserContext>();

export async function openPage(browser: Browser, url: string, options: { width?: number } = {}): Promise<OpenedPage> {
  const context = await browser.newContext({ viewport: { width: options.width ?? 900, height: 900 }, acceptDownloads: true });
  open.add(context);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // Failed requests are logged by Chromium itself while the server is down; they are expected there.
    if (m.type() === 'error' && !/Failed to load resource|ERR_CONNECTION|ERR_EMPTY_RESPONSE|net::/.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  await gotoReady(page, url);
  return { page, context, errors };
}

/** Closes every page opened so far (call after each test: a page left running keeps uploading). */
export async function closePages(): Promise<void> {
  const contexts = [...open];
  open.clear();
  await Promise.all(contexts.map((c) => c.close()));
}

/** Loads (or reloads) the page and waits until it has asked the server for files and unfinished uploads. */
export async function gotoReady(page: Page, url?: string): Promise<void> {
  if (url) await page.goto(url);
  else await page.reload();
  await page.locator('body[data-ready="true"]').waitFor();
}

/** Upload rows: those running (and failed) and those tucked into the "N uploaded" group. */
export const uploadRows = '#uploads-list > li, #finished-list > li';

/** The upload row of the file called `name`. */
export function uploadRow(page: Page, name: string): Locator {
  return page.locator(uploadRows, { has: page.locator('.name', { hasText: name }) });
}

/** The row's progress bar value, 0–100. */
export function percent(row: Locator): Promise<number> {
  return row.locator('progress').evaluate((el) => (el as HTMLProgressElement).value);
}

/** Waits until the row's bar reaches `atLeast` percent (page state, not time). */
export async function waitForPercent(page: Page, name: string, atLeast: number): Promise<void> {
  await page.waitForFunction(
    ([n, min]) => {
      for (const li of document.querySelectorAll('#uploads-list > li, #finished-list > li')) {
        if (li.querySelector('.name')?.textContent === n) return (li.querySelector('progress')?.value ?? 0) >= min;
      }
      return false;
    },
    [name, atLeast] as const,
  );
}

/** Waits for the row's state; a finished row may be tucked away (not visible), so presence is enough. */
export async function waitForState(row: Locator, state: string, timeout = 60_000): Promise<void> {
  await row.and(row.page().locator(`[data-state="${state}"]`)).waitFor({ timeout, state: 'attached' });
}

/** Chooses files with the page's file input (as the "Choose files…" dialog would). */
export async function chooseFiles(page: Page, paths: string[]): Promise<void> {
  await page.locator('#file-input').setInputFiles(paths);
}

/** Saves a picture of the page in test-artifacts/ (the whole page, or only the window with `fullPage: false`). */
export async function screenshot(page: Page, name: string, options: { fullPage?: boolean } = {}): Promise<string> {
  await mkdir(artifactsDir, { recursive: true });
  const path = resolve(artifactsDir, name);
  await page.screenshot({ path, fullPage: options.fullPage ?? true });
  return path;
}
