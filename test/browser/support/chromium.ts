// Launching Debian's Chromium for the page tests, or saying clearly why they are skipped.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const chromiumPath = process.env.FERRY_CHROMIUM ?? '/usr/bin/chromium';

/** Outside CI a missing Chromium skips the page tests; in CI it is an error (CI installs it). */
export const chromiumMissing = !existsSync(chromiumPath);
if (chromiumMissing && !process.env.CI) {
  console.warn(
    `Skipping the browser tests: no Chromium at ${chromiumPath}. Install it with ` +
      '`apt-get install chromium` (or set FERRY_CHROMIUM to a Chromium binary).',
  );
}
export const skipBrowser = chromiumMissing && !process.env.CI;

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}
