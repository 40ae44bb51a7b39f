// The uploads on the page as a whole: where each row goes (running and failed ones on top, finished
// ones tucked into "12 uploaded · show" once there are more than a few), the actions on all of them
// (Pause all, Resume all, Cancel all, Clear finished) and the overall bar. Rows never reorder among
// themselves; a row moves only when it finishes, so a button someone is about to press stays put.
import { announce, byId } from './dom.js';
import { focusAfterRemoval, focusHeading } from './focus.js';
import { OverallProgress } from './overall.js';
import type { UploadTask } from './upload-task.js';
import { isFinished } from './upload-view.js';
import { releaseThumbnails } from './thumbnail.js';

/** Up to this many rows, finished ones stay in the list (a few uploads keep their links in sight). */
export const collapseAfter = 3;

export class UploadBoard {
  private tasks: UploadTask[] = [];
  private readonly overall = new OverallProgress();
  private readonly section = byId('uploads');
  private readonly list = byId('uploads-list');
  private readonly finished = byId<HTMLDetailsElement>('finished');
  private readonly finishedList = byId('finished-list');
  private readonly finishedCount = byId('finished-count');
  private readonly actions = byId('batch-actions');
  private readonly pauseAll = byId<HTMLButtonElement>('pause-all');
  private readonly resumeAll = byId<HTMLButtonElement>('resume-all');
  private readonly cancelAll = byId<HTMLButtonElement>('cancel-all');
  private readonly clearFinished = byId<HTMLButtonElement>('clear-finished');
  /** The last row added in this task of the event loop: files chosen together are listed in their order. */
  private lastAdded: HTMLElement | null = null;
  /** Which rows sit in the finished group now (a row moves when its state crosses over). */
  private readonly tucked = new WeakSet<UploadTask>();
  private readonly placedFinished = new WeakSet<UploadTask>();

  constructor() {
    this.pauseAll.addEventListener('click', () => this.each((t) => t.view.state === 'running' || t.view.state === 'starting', (t) => t.pause()));
    this.resumeAll.addEventListener('click', () => this.each((t) => t.view.state === 'paused', (t) => t.resume()));
    this.cancelAll.addEventListener('click', () => this.onCancelAll());
    this.clearFinished.addEventListener('click', () => this.onClearFinished());
  }

  /** A new upload's row: on top, after the others chosen with it. */
  add(task: UploadTask): void {
    const row = task.view.element;
    if (this.lastAdded?.parentElement === this.list) this.lastAdded.after(row);
    else this.list.prepend(row);
    if (this.lastAdded === null) queueMicrotask(() => (this.lastAdded = null));
    this.lastAdded = row;
    this.tasks.push(task);
    this.section.hidden = false;
    this.overall.add(task);
    this.layout();
  }

  /** Progress or state changed: the overall bar, the buttons, and the row's place if it finished. */
  update(task?: UploadTask): void {
    if (task && isFinished(task.view.state) && !this.placedFinished.has(task)) this.placeFinished(task);
    this.overall.update();
    this.refresh();
  }

  /** The row's Dismiss: it goes, and focus to the row after it (or the heading). */
  remove(task: UploadTask): void {
    this.drop([task]);
  }

  private drop(gone: UploadTask[]): void {
    const rows = gone.map((t) => t.view.element);
    const focusWasIn = rows.find((r) => r.contains(document.activeElement)) ?? null;
    const after = focusWasIn ? focusAfterRemoval(focusWasIn, rows) : null;
    for (const t of gone) {
      releaseThumbnails(t.view.element);
      t.view.element.remove();
      this.overall.remove(t);
    }
    this.tasks = this.tasks.filter((t) => !gone.includes(t));
    this.section.hidden = this.tasks.length === 0;
    this.layout();
    if (focusWasIn) after?.();
  }

  /** A finished row leaves the running ones: tucked into the group, or just below the running rows. */
  private placeFinished(task: UploadTask): void {
    this.placedFinished.add(task);
    const row = task.view.element;
    if (this.tasks.length > collapseAfter) {
      this.tuck(task);
      return;
    }
    const firstFinished = [...this.list.children].find((li) => li !== row && isFinished(this.taskOf(li)?.view.state ?? 'running'));
    if (firstFinished) {
      if (row.nextElementSibling !== firstFinished) this.keepingFocus(row, () => firstFinished.before(row));
    } else if (this.list.lastElementChild !== row) {
      this.keepingFocus(row, () => this.list.append(row));
    }
  }

  /** Into the finished group, newest first; focus in the row goes to the group's summary. */
  private tuck(task: UploadTask): void {
    this.tucked.add(task);
    const row = task.view.element;
    const hadFocus = row.contains(document.activeElement);
    this.finishedList.prepend(row);
    if (hadFocus && !(this.finished.open && task.view.focus())) this.finished.querySelector('summary')?.focus();
  }

  /** Moving an element drops focus from it; put it back where it was. */
  private keepingFocus(row: HTMLElement, move: () => void): void {
    const focused = row.contains(document.activeElement) ? (document.activeElement as HTMLElement) : null;
    move();
    focused?.focus();
  }

  /** Collapses finished rows once there are many; lets them out again when few are left. */
  private layout(): void {
    const collapse = this.tasks.length > collapseAfter;
    for (const t of this.tasks) {
      if (!isFinished(t.view.state)) continue;
      if (collapse && !this.tucked.has(t)) this.tuck(t);
      if (!collapse && this.tucked.has(t)) {
        this.tucked.delete(t);
        this.keepingFocus(t.view.element, () => this.list.append(t.view.element));
      }
    }
    this.refresh();
  }

  private refresh(): void {
    const states = this.tasks.map((t) => t.view.state);
    const count = (s: string) => states.filter((x) => x === s).length;
    const done = count('done');
    const cancelled = count('cancelled');
    const tucked = this.tasks.filter((t) => this.tucked.has(t)).length;
    this.finished.hidden = tucked === 0;
    if (tucked > 0) this.finishedCount.textContent = [done > 0 ? `${done} uploaded` : '', cancelled > 0 ? `${cancelled} cancelled` : ''].filter(Boolean).join(', ');
    // Actions on all only when there is more than one upload; each only when it would do something.
    this.actions.hidden = this.tasks.length < 2;
    this.pauseAll.hidden = count('running') + count('starting') === 0;
    this.resumeAll.hidden = count('paused') === 0;
    this.cancelAll.hidden = !this.tasks.some((t) => t.active);
    this.clearFinished.hidden = done + cancelled === 0;
  }

  private each(which: (t: UploadTask) => boolean, act: (t: UploadTask) => void): void {
    const chosen = this.tasks.filter(which);
    for (const t of chosen) act(t);
    this.refresh();
    this.focusActionsIfLost();
  }

  private onCancelAll(): void {
    const active = this.tasks.filter((t) => t.active);
    if (active.length === 0) return;
    const what = active.length === 1 ? 'the upload in progress' : `all ${active.length} uploads in progress`;
    if (!window.confirm(`Cancel ${what}? What they sent is removed from the server.`)) return;
    for (const t of active) void t.cancel();
    announce(`Cancelling ${active.length} ${active.length === 1 ? 'upload' : 'uploads'}`);
  }

  private onClearFinished(): void {
    const gone = this.tasks.filter((t) => isFinished(t.view.state));
    if (gone.length === 0) return;
    const focusOnButton = document.activeElement === this.clearFinished;
    this.drop(gone);
    announce(`Cleared ${gone.length} finished ${gone.length === 1 ? 'upload' : 'uploads'}`);
    if (focusOnButton) this.focusActionsIfLost();
  }

  /** The button pressed has gone (nothing left to pause, say): focus to the next action, or the heading. */
  private focusActionsIfLost(): void {
    const active = document.activeElement;
    if (active && active !== document.body && !(active as HTMLElement).hidden && this.section.contains(active) && !active.closest('[hidden]')) return;
    const next = [...this.actions.querySelectorAll<HTMLButtonElement>('button')].find((b) => !b.hidden && !this.actions.hidden);
    if (next) next.focus();
    else focusHeading(this.section);
  }

  private taskOf(row: Element): UploadTask | undefined {
    return this.tasks.find((t) => t.view.element === row);
  }
}
