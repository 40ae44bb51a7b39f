// The files on the server (GET /files: the signed-in identity's own, a page at a time with "Show
// more"): name (the download link), size, date, copy link or share link, delete. Failures to load are
// shown in place with a way to try again, never swallowed.
import { backoffDelay, classifyError } from '../client/index.js';
import type { Access } from './access.js';
import { describeFileProblem } from './describe.js';
import { announce, byId, h } from './dom.js';
import type { FileActions } from './file-actions.js';
import { formatBytes, formatDate } from './format.js';
import type { FileInfo, PageApi } from './server-api.js';
import { readableLabel } from './display-name.js';

/** Looking again for the list while the server is unreachable: the engine's backoff, from 2 s up to 15 s. */
const listRetry = { baseDelayMs: 2000, maxDelayMs: 15_000 };

export class FilesList {
  private readonly list = byId('files-list');
  private readonly state = byId('files-state');
  private readonly more = byId<HTMLButtonElement>('files-more');
  private readonly refreshButton = byId<HTMLButtonElement>('files-refresh');
  private loading: Promise<void> | null = null;
  private again = false;
  private cursor: string | null = null;
  /** While the server cannot be reached: the next try, and how many have failed in a row. */
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private unreachable = 0;

  constructor(
    private readonly api: PageApi,
    private readonly actions: FileActions,
    private readonly access: () => Access,
  ) {
    this.refreshButton.addEventListener('click', () => void this.refresh());
    this.more.addEventListener('click', () => void this.showMore());
    window.addEventListener('online', () => this.reconnected());
  }

  /** The server answers again (an upload got through, the browser is back online): reload now if the last load could not reach it. */
  reconnected(): void {
    // A load under way may have gone out while the server was still down: it is followed by another.
    if (this.retryTimer === null && this.loading === null) return;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    void this.refresh();
  }

  /** Reloads the first page; calls during a load cause one more load after it (so a new file shows). */
  refresh(): Promise<void> {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = this.load().finally(() => {
      this.loading = null;
      if (this.again) {
        this.again = false;
        void this.refresh();
      }
    });
    return this.loading;
  }

  private async load(): Promise<void> {
    const access = this.access();
    byId('files-title').textContent = access.admin ? 'Files on this server' : 'Your files';
    this.refreshButton.hidden = !access.listFiles;
    if (!access.listFiles) {
      this.list.replaceChildren();
      this.more.hidden = true;
      this.setState('Your access lets you upload files, but not list them.');
      return;
    }
    this.state.dataset.kind = 'info';
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    try {
      const page = await this.api.listFiles();
      this.unreachable = 0;
      this.list.replaceChildren(...page.files.map((f) => this.renderFile(f)));
      this.setCursor(page.nextCursor);
      this.setState(page.files.length === 0 ? 'No files yet.' : '');
    } catch (e) {
      // No answer at all, or a gateway's "the server behind me is down": as the engine judges it.
      if (classifyError(e).kind !== 'unreachable') {
        this.setState(describeFileProblem(e, 'load the file list'), 'error');
        return;
      }
      // Down or restarting: say so plainly (not the failed request's URL) and look again by itself,
      // sooner when an upload gets through (reconnected()).
      this.setState("Can't reach the server — retrying. The list refreshes by itself when it is back.", 'warning');
      const delay = backoffDelay(++this.unreachable, listRetry, Math.random);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        void this.refresh();
      }, delay);
    }
  }

  /** The next page, appended; focus moves to its first file when no further page is left. */
  private async showMore(): Promise<void> {
    if (this.cursor === null || this.more.getAttribute('aria-busy') === 'true') return;
    this.more.setAttribute('aria-busy', 'true');
    try {
      const page = await this.api.listFiles(this.cursor);
      const known = new Set([...this.list.children].map((li) => (li as HTMLElement).dataset.fileId));
      const rows = page.files.filter((f) => !known.has(f.fileId)).map((f) => this.renderFile(f));
      this.list.append(...rows);
      this.setCursor(page.nextCursor);
      this.setState('');
      announce(`${rows.length} more ${rows.length === 1 ? 'file' : 'files'} shown`);
      if (this.more.hidden) rows[0]?.querySelector<HTMLElement>('a, button')?.focus();
    } catch (e) {
      this.setState(describeFileProblem(e, 'load more files'), 'error');
    } finally {
      this.more.removeAttribute('aria-busy');
    }
  }

  private setCursor(cursor: string | null): void {
    this.cursor = cursor;
    this.more.hidden = cursor === null;
  }

  private setState(text: string, kind: 'info' | 'warning' | 'error' = 'info'): void {
    this.state.dataset.kind = kind;
    this.state.textContent = text;
  }

  private renderFile(f: FileInfo): HTMLLIElement {
    const note = h('p', { class: 'message', role: 'status' });
    const row = h('li', { class: 'file', 'data-file-id': f.fileId });
    // A name stored before blank names were refused (or one of odd characters) still reads as something.
    const label = readableLabel(f.name);
    const name = this.actions.downloadLink(f, label.text, 'name') ?? h('span', { class: 'name' }, label.text);
    if (label.text !== f.name) {
      name.setAttribute('aria-label', label.text);
      name.setAttribute('title', label.full);
    }
    const remove = this.actions.deleteButton(
      f,
      () => this.removeRow(row),
      (text) => {
        note.dataset.kind = 'error';
        note.textContent = text;
      },
    );
    row.append(
      name,
      h('span', { class: 'size' }, formatBytes(f.size)),
      h('time', { datetime: f.createdAt, class: 'date' }, formatDate(f.createdAt)),
      h('div', { class: 'file-actions' }, this.actions.copyButton(f), remove),
      note,
    );
    return row;
  }

  /** Takes a deleted file's row away; focus goes to the next file (or the one before, or Refresh). */
  private removeRow(row: HTMLLIElement): void {
    const hadFocus = row.contains(document.activeElement) || document.activeElement === document.body;
    const neighbour = (row.nextElementSibling ?? row.previousElementSibling) as HTMLElement | null;
    row.remove();
    if (this.list.childElementCount === 0 && this.more.hidden) this.setState('No files yet.');
    if (hadFocus) (neighbour?.querySelector<HTMLElement>('a, button') ?? (this.more.hidden ? this.refreshButton : this.more)).focus();
  }
}
