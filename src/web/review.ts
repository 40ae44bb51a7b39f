// "Review before upload": chosen files wait in a list, each removable, until "Upload N files". The
// choice is remembered in this browser; without it uploads start as soon as files are chosen.
import { byId, h } from './dom.js';
import { KeyedSet } from './duplicates.js';
import type { PickedFile } from './folder-walk.js';
import { formatBytes } from './format.js';
import { releaseThumbnails } from './thumbnail.js';

const storageKey = 'ferry.reviewFirst';

/** How a waiting file is drawn (its label, note and preview come from the intake). */
export type DrawEntry = (p: PickedFile) => { label: string; title: string; thumb: Node | null; note: Node | null };

export class ReviewList {
  private readonly option = byId<HTMLInputElement>('review-first');
  private readonly section = byId('review');
  private readonly list = byId('review-list');
  private readonly send = byId<HTMLButtonElement>('review-upload');
  private readonly clearButton = byId<HTMLButtonElement>('review-clear');
  private readonly entries = new KeyedSet<{ picked: PickedFile; row: HTMLLIElement }>();

  constructor(
    private readonly draw: DrawEntry,
    private readonly upload: (files: PickedFile[]) => void,
  ) {
    this.option.checked = remembered() === '1';
    this.option.addEventListener('change', () => remember(this.option.checked ? '1' : '0'));
    this.send.addEventListener('click', () => this.sendAll());
    this.clearButton.addEventListener('click', () => {
      this.empty();
      byId('choose-files').focus();
    });
  }

  /** Whether chosen files wait here first. */
  get enabled(): boolean {
    return this.option.checked;
  }

  has(p: PickedFile): boolean {
    return this.entries.get(p) !== undefined;
  }

  add(files: PickedFile[]): void {
    for (const picked of files) {
      const { label, title, thumb, note } = this.draw(picked);
      const remove = h('button', { type: 'button', class: 'secondary', 'aria-label': `Remove ${label}` }, 'Remove');
      const row = h(
        'li',
        { class: 'review-item' },
        h('div', { class: 'upload-head' }, thumb, h('span', { class: 'name', title }, label), h('span', { class: 'size' }, formatBytes(picked.file.size)), remove),
        note,
      );
      const entry = { picked, row };
      remove.addEventListener('click', () => this.removeEntry(entry));
      this.entries.add(picked, entry);
      this.list.append(row);
    }
    this.render();
  }

  private removeEntry(entry: { picked: PickedFile; row: HTMLLIElement }): void {
    // Focus to the next entry's button (or the previous one's, or "Upload"), not lost with the row.
    const next = (entry.row.nextElementSibling ?? entry.row.previousElementSibling)?.querySelector('button') ?? null;
    releaseThumbnails(entry.row);
    entry.row.remove();
    this.entries.delete(entry);
    this.render();
    (this.entries.values().length > 0 ? next : byId('choose-files'))?.focus();
  }

  private sendAll(): void {
    const files = this.entries.values().map((e) => e.picked);
    this.empty();
    if (files.length > 0) this.upload(files);
    byId('uploads-title').focus();
  }

  private empty(): void {
    this.entries.clear();
    releaseThumbnails(this.list);
    this.list.replaceChildren();
    this.render();
  }

  private render(): void {
    const n = this.entries.values().length;
    this.section.hidden = n === 0;
    this.send.textContent = n === 1 ? 'Upload 1 file' : `Upload ${n} files`;
  }
}

function remembered(): string | null {
  try {
    return window.localStorage.getItem(storageKey);
  } catch {
    return null;
  }
}

function remember(value: string): void {
  try {
    window.localStorage.setItem(storageKey, value);
  } catch {
    // Storage refused (private mode, full): the option holds for this page only.
  }
}
