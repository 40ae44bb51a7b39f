// Uploads this browser started on this server and did not finish (page reloaded, tab closed, crash):
// listed from the engine's resume store with what the server still holds, so the person knows to
// select the same file again. The engine itself does the resuming when that file is chosen.
import { createResumeStore, listResumeEntries } from '../client/browser/resume-store.js';
import type { ResumeEntry } from '../client/index.js';
import { FerryError, type UploadStatus } from '../protocol/index.js';
import { describeFailure } from './describe.js';
import { announce, byId, h } from './dom.js';
import { focusAfterRemoval, focusHeading } from './focus.js';
import { formatBytes, formatDate, percentOf } from './format.js';
import type { PageApi } from './server-api.js';

/** Answers meaning the server has nothing left to resume. */
const goneCodes = new Set(['upload-not-found', 'not-found', 'upload-expired', 'upload-aborted', 'upload-failed']);

interface Item {
  key: string;
  entry: ResumeEntry;
  status: UploadStatus | null;
  /** Why the status is unknown (server unreachable), when it is. */
  problem: string | null;
}

export class UnfinishedList {
  private items: Item[] = [];
  private readonly section = byId('unfinished');
  private readonly list = byId('unfinished-list');
  private readonly store = createResumeStore();
  /** Uploads running on this page; a load that was under way when they started must not list them. */
  private readonly running = new Set<string>();

  constructor(
    private readonly api: PageApi,
    private readonly server: string,
    /** Whether a credential is in use (then records another identity made are left alone). */
    private readonly signedIn: () => boolean = () => false,
  ) {}

  async load(): Promise<void> {
    const mine = (await listResumeEntries()).filter((l) => sameServer(l.entry.serverUrl, this.server));
    const items = await Promise.all(mine.map((l) => this.check(l.key, l.entry)));
    this.items = items.filter((i): i is Item => i !== null);
    this.render();
  }

  /** The upload is running again (or finished): it is no longer "unfinished". */
  forget(uploadId: string): void {
    this.running.add(uploadId);
    const before = this.items.length;
    this.items = this.items.filter((i) => i.entry.uploadId !== uploadId);
    if (this.items.length !== before) this.render();
  }

  /** The server's view of a remembered upload; null (and forgotten) when there is nothing to resume. */
  private async check(key: string, entry: ResumeEntry): Promise<Item | null> {
    try {
      const status = await this.api.uploadStatus(entry.uploadUrl);
      if (status.state === 'uploading') return { key, entry, status, problem: null };
    } catch (e) {
      if (!(e instanceof FerryError && goneCodes.has(e.code))) return { key, entry, status: null, problem: describeFailure(e) };
      // With a credential, "not found" may only mean "not yours": another identity signed in on this
      // browser. Its record is not this identity's to delete; leave it off the list.
      if (e.status === 404 && this.signedIn()) return null;
    }
    // Complete (it is in the file list), expired, aborted, failed or unknown: nothing to resume.
    await this.store.delete(key);
    return null;
  }

  private async discard(item: Item, button: HTMLButtonElement): Promise<void> {
    const row = button.closest('li');
    const hadFocus = row?.contains(document.activeElement) || document.activeElement === document.body;
    const refocus = row ? focusAfterRemoval(row) : () => focusHeading(this.section);
    button.disabled = true;
    try {
      await this.api.discardUpload(item.entry.uploadUrl);
    } catch {
      // Unreachable or already gone: the server expires it on its own; forget it here anyway.
    }
    await this.store.delete(item.key);
    this.items = this.items.filter((i) => i !== item);
    this.render();
    announce(`Discarded the unfinished upload of ${item.entry.name}`);
    // Focus to the row that took its place (or the one before), else a heading: never lost to the page.
    if (hadFocus) refocus();
  }

  private render(): void {
    this.items = this.items.filter((i) => !this.running.has(i.entry.uploadId));
    this.section.hidden = this.items.length === 0;
    this.list.replaceChildren(...this.items.map((item) => this.renderItem(item)));
  }

  private renderItem(item: Item): HTMLLIElement {
    const { entry, status } = item;
    const detail = status
      ? `${percentOf(status.bytesReceived, status.size)} % on the server · kept until ${formatDate(status.expiresAt)}`
      : `Status unknown: ${item.problem}`;
    const discard = h('button', { type: 'button', class: 'secondary', 'aria-label': `Discard ${entry.name}` }, 'Discard');
    discard.addEventListener('click', () => void this.discard(item, discard));
    return h(
      'li',
      { class: 'unfinished-item', 'data-upload-id': entry.uploadId },
      h('div', { class: 'upload-head' }, h('span', { class: 'name' }, entry.name), h('span', { class: 'size' }, formatBytes(entry.size))),
      h('p', { class: 'hint' }, 'Unfinished — select the same file again to resume. ', h('span', { class: 'detail' }, detail)),
      h('div', { class: 'actions' }, discard),
    );
  }
}

/** Server URLs compare without trailing slashes (the engine stores them without). */
function sameServer(a: string, b: string): boolean {
  const norm = (u: string) => u.replace(/\/+$/, '');
  return norm(a) === norm(b);
}
