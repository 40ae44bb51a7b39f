// The page with auth on (token mode), in Chromium: a grant handed over in the URL fragment (taken into
// sessionStorage and out of the address bar), the key form when there is no credential, the identity's
// own files with Delete and Copy share link, scopes hiding what a grant may not do, and an expired
// grant leading back to the form with a message.
import { existsSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { MiB } from '../helpers/server.js';
import { Paths } from '../../src/protocol/index.js';
import { filesPageSize } from '../../src/web/server-api.js';
import { apiKeyFor, as, grantFor, tokenMode, uploadAs } from './support/auth.js';
import { skipBrowser } from './support/chromium.js';
import { pageFixture } from './support/fixture.js';
import type { PageServer } from './support/page-server.js';
import { fetchDigest, makeFile } from './support/files.js';
import { chooseFiles, gotoReady, openPage, screenshot, uploadRow, waitForState } from './support/page.js';

const credentialKey = 'ferry:credential';

/** Everything the page keeps in web storage, as text. */
function storage(page: Page): Promise<{ session: Record<string, string>; local: Record<string, string> }> {
  return page.evaluate(() => ({ session: { ...sessionStorage }, local: { ...localStorage } }));
}

/** Moves the server's clock past the grant's expiry (its JWT `exp`): no waiting, whatever the machine's speed. */
function pastExpiry(srv: PageServer, grant: string): void {
  const { exp } = JSON.parse(Buffer.from(grant.split('.')[1]!, 'base64url').toString('utf8')) as { exp: number };
  const ahead = exp * 1000 + 1000 - Date.now();
  srv.server.ctx.now = () => Date.now() + Math.max(0, ahead);
}

function fileRow(page: Page, name: string) {
  return page.locator('#files-list > li', { has: page.locator('.name', { hasText: name }) });
}

describe.skipIf(skipBrowser)('web page: auth on', () => {
  const env = pageFixture(tokenMode);
  afterEach(() => {
    env.srv.server.ctx.now = () => Date.now(); // undo pastExpiry()
  });

  it('a grant in the fragment signs the page in; the upload is the identity’s file; the grant stays in this tab only', async () => {
    const grant = await grantFor('alice', { upload: { maxBytes: 10 * MiB }, files: 'write' });
    const file = await makeFile(env.dir, 'alice-notes.txt', 2 * MiB);
    const { page, errors } = await openPage(env.browser, `${env.srv.url}#grant=${grant}`);

    // Out of the address bar (and so out of bookmarks, history and copied URLs); kept in sessionStorage only.
    expect(page.url()).toBe(env.srv.url);
    const kept = await storage(page);
    expect(kept.session[credentialKey]).toBe(grant);
    expect(JSON.stringify(kept.local)).not.toContain(grant);
    await expect(page.locator('#account-text').textContent()).resolves.toMatch(/^Signed in as alice · access until /);
    expect(await page.locator('#sign-in').isHidden()).toBe(true);
    await page.locator('#files-state', { hasText: 'No files yet.' }).waitFor();

    await chooseFiles(page, [file.path]);
    const row = uploadRow(page, file.name);
    await waitForState(row, 'done');
    const listed = fileRow(page, file.name);
    await listed.waitFor();
    const shot = await screenshot(page, 'auth-signed-in.png');
    // The docs' picture of the page with auth on: written when missing or asked for (UPDATE_SCREENSHOT=1),
    // as controls.test.ts does for the README's, so test runs do not keep changing a committed file.
    const docsShot = resolve(import.meta.dirname, '../../docs/screenshot-auth.png');
    if (process.env.UPDATE_SCREENSHOT === '1' || !existsSync(docsShot)) await copyFile(shot, docsShot);

    // The server agrees: alice's file, with the browser's media type in its metadata.
    const files = await as(env.srv, grant, 'GET', Paths.files);
    expect(files.status).toBe(200);
    expect(files.body.files).toHaveLength(1);
    expect(files.body.files[0]).toMatchObject({ name: file.name, owner: 'alice', size: file.size, metadata: { type: 'text/plain' } });

    // A link cannot send a header, and the grant never goes into one: a click fetches a short download
    // link, which serves the same bytes.
    for (const link of [row.locator('a.download'), listed.locator('a.name')]) {
      expect(await link.getAttribute('href')).not.toContain('grant=');
      const download = page.waitForEvent('download');
      await link.click();
      const got = await download;
      expect(got.suggestedFilename()).toBe(file.name);
      expect(new URL(got.url()).searchParams.get('grant')).not.toBe(grant);
      expect(await fetchDigest(got.url())).toEqual({ sha256: file.sha256, size: file.size });
    }
    expect(JSON.stringify((await storage(page)).local)).not.toContain(grant);
    expect(errors).toEqual([]);
  });

  it('Copy share link copies a link that downloads the file with no credential', async () => {
    const grant = await grantFor('dana', { upload: { maxBytes: 10 * MiB }, files: 'write' });
    const file = await makeFile(env.dir, 'dana-share.bin', 1 * MiB);
    const { page, context, errors } = await openPage(env.browser, `${env.srv.url}#grant=${grant}`, { width: 360 });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(env.srv.url).origin });
    await chooseFiles(page, [file.path]);
    await waitForState(uploadRow(page, file.name), 'done');
    const listed = fileRow(page, file.name);
    await listed.getByRole('button', { name: `Copy share link to ${file.name}` }).click();
    await listed.getByText(/^Share link copied \(works until .+\)$/).waitFor();
    const url = await page.evaluate(() => navigator.clipboard.readText());
    // Its own narrow grant (this one file), not the person's.
    expect(url).toMatch(/\/files\/[^/?]+\?grant=/);
    expect(url).not.toContain(grant);
    expect(await fetchDigest(url)).toEqual({ sha256: file.sha256, size: file.size }); // plain fetch, no Authorization
    // At phone width, the account line, the buttons and the note fit: nothing sticks out sideways.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    await screenshot(page, 'auth-share-phone.png');
    expect(errors).toEqual([]);
  });

  it('without a credential the page asks for one; an API key signs in; Delete (confirmed) removes the file on the server', async () => {
    const key = await apiKeyFor(env.srv, 'bob');
    const [first, second] = [await uploadAs(env.srv, key, 'bob-first.txt'), await uploadAs(env.srv, key, 'bob-second.txt')];
    const { page, errors } = await openPage(env.browser, env.srv.url);

    const form = page.locator('#sign-in');
    await form.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(await page.locator('#workspace').isHidden()).toBe(true);
    const input = page.getByLabel('API key or grant');
    expect(await input.getAttribute('type')).toBe('password');
    // Focus is in the field, so a person can paste at once.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('credential-input');
    await screenshot(page, 'auth-sign-in.png');

    // A wrong key: said plainly, still signed out, nothing kept.
    await input.fill('fk_0123456789abcdef_' + 'x'.repeat(43));
    await form.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#sign-in-message', { hasText: /^That key or grant was not accepted/ }).waitFor();
    expect((await storage(page)).session[credentialKey]).toBeUndefined();

    await input.fill(key);
    await input.press('Enter');
    await page.locator('#account-text', { hasText: 'Signed in as bob with an API key' }).waitFor();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('choose-files');
    expect((await storage(page)).session[credentialKey]).toBe(key);
    expect(JSON.stringify((await storage(page)).local)).not.toContain(key);
    await fileRow(page, 'bob-first.txt').waitFor();
    await fileRow(page, 'bob-second.txt').waitFor();
    // An API key cannot ride in a link: Download points at the file itself and asks for a share link on click.
    expect(await fileRow(page, 'bob-first.txt').locator('a.name').getAttribute('href')).toBe(`${env.srv.url}files/${first}`);
    const download = page.waitForEvent('download');
    await fileRow(page, 'bob-first.txt').locator('a.name').click();
    expect((await download).suggestedFilename()).toBe('bob-first.txt');

    // Declining the confirmation keeps the file.
    page.once('dialog', (d) => void d.dismiss());
    await page.getByRole('button', { name: 'Delete bob-second.txt' }).click();
    expect((await as(env.srv, key, 'GET', Paths.file(second))).status).toBe(200);
    expect(await fileRow(page, 'bob-second.txt').count()).toBe(1);

    let asked = '';
    page.once('dialog', (d) => {
      asked = d.message();
      void d.accept();
    });
    await page.getByRole('button', { name: 'Delete bob-second.txt' }).click();
    await fileRow(page, 'bob-second.txt').waitFor({ state: 'detached' });
    expect(asked).toContain('bob-second.txt');
    expect((await as(env.srv, key, 'GET', Paths.file(second))).status).toBe(404);
    const left = await as(env.srv, key, 'GET', Paths.files);
    expect(left.body.files.map((f: { fileId: string }) => f.fileId)).toEqual([first]);
    // Focus moved to the file that is left, not lost to the page.
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('bob-first.txt');

    // Sign out: forgotten, and asked again.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.locator('body[data-ready="true"][data-auth="signed-out"]').waitFor();
    expect((await storage(page)).session[credentialKey]).toBeUndefined();
    expect(errors).toEqual([]);
  });

  it('a grant that may only read files gets no Delete or Copy share link; one without a files scope is told it cannot list', async () => {
    const key = await apiKeyFor(env.srv, 'erin');
    const fileId = await uploadAs(env.srv, key, 'erin-report.txt');
    const reader = await grantFor('erin', { files: 'read' });
    const { page, errors } = await openPage(env.browser, `${env.srv.url}#grant=${reader}`);
    const row = fileRow(page, 'erin-report.txt');
    await row.waitFor();
    expect(await row.getByRole('button').count()).toBe(0);
    expect(await row.locator('a.name').getAttribute('href')).toBe(`${env.srv.url}files/${fileId}`);
    const download = page.waitForEvent('download');
    await row.locator('a.name').click();
    expect((await download).suggestedFilename()).toBe('erin-report.txt');
    expect(await page.locator('#drop-zone').isHidden()).toBe(true); // no upload scope

    const uploader = await grantFor('erin', { upload: { maxBytes: MiB } });
    await page.goto('about:blank'); // a new load, not a jump to a fragment of the same page
    await gotoReady(page, `${env.srv.url}#grant=${uploader}`);
    await page.locator('#files-state', { hasText: 'Your access lets you upload files, but not list them.' }).waitFor();
    expect(await page.locator('#files-list > li').count()).toBe(0);
    expect(await page.locator('#drop-zone').isVisible()).toBe(true);
    expect(errors).toEqual([]);
  });

  it('an expired grant leads back to the form, with a message', async () => {
    // Already expired when the page opens it.
    const stale = await grantFor('frank', { files: 'read' }, 60);
    pastExpiry(env.srv, stale);
    const { page, errors } = await openPage(env.browser, `${env.srv.url}#grant=${stale}`);
    await page.locator('#sign-in-message', { hasText: /^Your access has expired\./ }).waitFor();
    expect(await page.locator('#workspace').isHidden()).toBe(true);
    expect((await storage(page)).session[credentialKey]).toBeUndefined();

    // Expiring while the page is open: the next request finds out.
    env.srv.server.ctx.now = () => Date.now();
    const short = await grantFor('frank', { files: 'read' }, 60);
    await page.goto('about:blank');
    await gotoReady(page, `${env.srv.url}#grant=${short}`);
    await page.locator('#account-text', { hasText: 'Signed in as frank' }).waitFor();
    pastExpiry(env.srv, short);
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.locator('#sign-in-message', { hasText: /^Your access has expired\./ }).waitFor();
    expect(await page.locator('#sign-in-message').getAttribute('role')).toBe('alert');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('credential-input');
    expect(await page.locator('#account').isHidden()).toBe(true);
    expect((await storage(page)).session[credentialKey]).toBeUndefined();
    await screenshot(page, 'auth-expired.png');
    expect(errors).toEqual([]);
  });

  it('an upload refused for an expired grant asks for a new one, then "Try again" finishes with it', async () => {
    const short = await grantFor('gina', { upload: { maxBytes: 10 * MiB }, files: 'write' }, 60);
    const file = await makeFile(env.dir, 'gina-late.bin', 1 * MiB);
    const { page, errors } = await openPage(env.browser, `${env.srv.url}#grant=${short}`);
    await page.locator('#account-text', { hasText: 'Signed in as gina' }).waitFor();
    pastExpiry(env.srv, short);

    await chooseFiles(page, [file.path]);
    await page.locator('#sign-in-message', { hasText: /^Your access has expired\./ }).waitFor();
    const row = uploadRow(page, file.name);
    // Failed, and out of sight with the rest of the workspace until someone signs in.
    await row.and(page.locator('[data-state="failed"]')).waitFor({ state: 'attached' });
    expect(await page.locator('#workspace').isHidden()).toBe(true);

    // The application's new grant, pasted into the form (as a person with a fresh link might).
    env.srv.server.ctx.now = () => Date.now();
    const fresh = await grantFor('gina', { upload: { maxBytes: 10 * MiB }, files: 'write' });
    await page.getByLabel('API key or grant').fill(fresh);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#account-text', { hasText: 'Signed in as gina' }).waitFor();
    await expect(row.locator('.message').textContent()).resolves.toMatch(/sign in again/);
    await row.getByRole('button', { name: `Try again ${file.name}` }).click();
    await waitForState(row, 'done');
    await fileRow(page, file.name).waitFor();
    expect((await storage(page)).session[credentialKey]).toBe(fresh);
    expect(errors).toEqual([]);
  });

  it('a long list comes a page at a time: "Show more" adds the next, then goes away', async () => {
    const key = await apiKeyFor(env.srv, 'hank');
    for (let i = 1; i <= filesPageSize + 1; i++) await uploadAs(env.srv, key, `hank-${String(i).padStart(2, '0')}.txt`);
    const { page, errors } = await openPage(env.browser, `${env.srv.url}#grant=${await grantFor('hank', { files: 'read' })}`);
    const rows = page.locator('#files-list > li');
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(filesPageSize);
    const more = page.getByRole('button', { name: 'Show more' });
    const firstPage = await rows.locator('.name').allTextContents();
    await more.click();
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(filesPageSize + 1);
    const names = await rows.locator('.name').allTextContents();
    expect(new Set(names).size).toBe(filesPageSize + 1);
    const added = names.filter((n) => !firstPage.includes(n));
    expect(added).toHaveLength(1);
    expect(await more.isHidden()).toBe(true);
    // The button went away under the keyboard: focus is on the first file it brought.
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe(added[0]);
    expect(errors).toEqual([]);
  });
});

describe.skipIf(skipBrowser)('web page: an open server and a stale credential', () => {
  const env = pageFixture();

  it('forgets a credential the open server refuses and goes on without one, no sign-in form', async () => {
    // An open server still checks a credential it is sent: one it does not know answers 401.
    const unknown = await grantFor('nobody', { files: 'read' }, 60);
    const { page, errors } = await openPage(env.browser, `${env.srv.url}#grant=${unknown}`);
    await page.locator('#workspace').waitFor();
    await page.locator('#drop-zone').waitFor();
    expect(await page.locator('#sign-in').isHidden()).toBe(true);
    expect((await storage(page)).session[credentialKey]).toBeUndefined();
    expect(errors).toEqual([]);
  });
});
