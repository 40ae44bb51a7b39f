// The files on the server (GET /files): name, size, date, download and copy-link. Failures to load
// are shown in place with a way to try again, never swallowed.
import { copyLinkButton } from './copy-link.js';
import { describeFailure } from './describe.js';
import { byId, h } from './dom.js';
import { formatBytes, formatDate } from './format.js';
import type { FileInfo, PageApi } from './server-api.js';

export class FilesList {
  private readonly list = byId('files-list');
  private readonly state = byId('files-state');
  private loading: Promise<void> | null = null;
  private again = false;

  constructor(private readonly api: PageApi) {
    byId('files-refresh').addEventListener('click', () => void this.refresh());
  }

  /** Reloads the list; calls during a load cause one more load after it (so a new file shows). */
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
    this.state.dataset.kind = 'info';
    try {
      const files = await this.api.listFiles();
      this.list.replaceChildren(...files.map((f) => this.renderFile(f)));
      this.state.textContent = files.length === 0 ? 'No files yet.' : '';
    } catch (e) {
      this.state.dataset.kind = 'error';
      this.state.textContent = `Could not load the file list. ${describeFailure(e)}`;
    }
  }

  private renderFile(f: FileInfo): HTMLLIElement {
    return h(
      'li',
      { class: 'file', 'data-file-id': f.fileId },
      h('a', { href: f.fileUrl, class: 'name', download: f.name }, f.name),
      h('span', { class: 'size' }, formatBytes(f.size)),
      h('time', { datetime: f.createdAt, class: 'date' }, formatDate(f.createdAt)),
      copyLinkButton(f.fileUrl),
    );
  }
}
