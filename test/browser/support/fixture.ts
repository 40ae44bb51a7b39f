// What every page test file needs: one Chromium, one Ferry server serving the page, a scratch
// directory for the files it picks; pages are closed after each test, everything else after the file.
import { rm } from 'node:fs/promises';
import type { Browser } from 'playwright-core';
import type { ServerConfigInput } from '../../../src/server/index.js';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { tempDir } from '../../helpers/server.js';
import { launchChromium } from './chromium.js';
import { closePages } from './page.js';
import { startPageServer, type PageServer } from './page-server.js';

export interface PageFixture {
  browser: Browser;
  srv: PageServer;
  dir: string;
}

/** Registers the hooks in the calling describe block; the fields are set once its beforeAll ran. */
export function pageFixture(config: ServerConfigInput = {}): PageFixture {
  const f = {} as PageFixture;
  beforeAll(async () => {
    [f.browser, f.srv, f.dir] = await Promise.all([launchChromium(), startPageServer(config), tempDir('ferry-web-files-')]);
  });
  afterEach(async () => {
    // A test that failed half way must not leave the next one a throttled server.
    f.srv?.throttle(0);
    await closePages();
  });
  afterAll(async () => {
    await f.browser?.close();
    await f.srv?.dispose();
    if (f.dir) await rm(f.dir, { recursive: true, force: true });
  });
  return f;
}
