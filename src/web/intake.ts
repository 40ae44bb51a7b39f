// From "files were chosen" to uploads: repeats recognised (a file already uploading or uploaded is
// not sent twice), odd names given a readable label and a name the server accepts, folder paths kept
// in metadata, files held for review when the person asked for that, and whatever was left out said.
import { announce, byId, h } from './dom.js';
import { readableLabel, uploadName, type Label } from './display-name.js';
import { KeyedSet, withoutRepeats } from './duplicates.js';
import type { FileRef } from './file-actions.js';
import type { Picked, PickedFile } from './folder-walk.js';
import { ReviewList } from './review.js';
import { thumbnailFor } from './thumbnail.js';
import type { TaskHooks, TaskIntake, UploadTask } from './upload-task.js';

export interface IntakeDeps {
  /** Makes, shows and starts the upload of one file. */
  start(file: File, details: TaskIntake): UploadTask;
  /** A finished file's links (as its row shows them). */
  links(file: FileRef): Node[];
}

/** What the intake works out for one file. */
interface Prepared {
  label: Label;
  details: TaskIntake;
  /** Why it is stored under another name, or null. */
  renamed: string | null;
}

export class Intake {
  private readonly tasks = new KeyedSet<UploadTask>();
  /** The name each upload is stored under, and once finished, the file it made. */
  private readonly storedName = new WeakMap<UploadTask, string>();
  private readonly done = new WeakMap<UploadTask, FileRef>();
  private readonly notes = byId('intake-notes');
  private readonly review: ReviewList;

  constructor(private readonly deps: IntakeDeps) {
    this.review = new ReviewList(
      (p) => {
        const { label, renamed, details } = prepare(p);
        return { label: label.text, title: label.full, thumb: thumbnailFor(p.file), note: renamed ? renameNote(details.name!, renamed, true) : null };
      },
      (files) => this.startAll(files),
    );
  }

  /** The hooks for the tasks it starts: the same, and it learns each finished file's links. */
  track(hooks: TaskHooks): TaskHooks {
    return {
      ...hooks,
      finished: (task, result) => {
        this.done.set(task, { fileId: result.fileId, fileUrl: result.fileUrl, name: this.storedName.get(task) ?? task.file.name });
        hooks.finished(task, result);
      },
    };
  }

  /** One choice: new files start (or wait for review), repeats are named, and so is what was left out. */
  receive(picked: Picked): void {
    const lines: Node[] = [];
    const say = (...parts: Array<Node | string>) => lines.push(h('p', {}, ...parts));
    const { unique, repeats } = withoutRepeats(picked.files);
    const fresh: PickedFile[] = [];
    const uploading: string[] = [];
    const uploaded: Array<{ name: string; file: FileRef | undefined }> = [];
    const listed: string[] = [];
    for (const p of unique) {
      const name = prepare(p).label.text;
      const task = this.current(p);
      if (task?.active) uploading.push(name);
      else if (task?.view.state === 'done') uploaded.push({ name, file: this.done.get(task) });
      else if (this.review.has(p)) listed.push(name);
      else fresh.push(p);
    }
    // A few repeats are named (an uploaded one with its links); many are counted, so the notes stay short.
    const few = uploading.length + uploaded.length + listed.length <= 3;
    if (few) {
      for (const name of uploading) say(`“${name}” is already uploading.`);
      for (const { name, file } of uploaded) say(`“${name}” is already uploaded. `, ...(file ? this.deps.links(file) : []));
      for (const name of listed) say(`“${name}” is already in the list to upload.`);
    } else {
      if (uploading.length > 0) say(`${count(uploading.length, 'file')} already uploading.`);
      if (uploaded.length > 0) say(`${count(uploaded.length, 'file')} already uploaded (their links are in the uploads list).`);
      if (listed.length > 0) say(`${count(listed.length, 'file')} already in the list to upload.`);
    }
    if (repeats > 0) say(`${count(repeats, 'file')} chosen twice in the same go ${repeats === 1 ? 'is' : 'are'} sent once.`);
    const none = picked.files.length === 0;
    if (picked.skipped.length > 0) say(`${none ? 'Nothing to upload' : 'Left out'}: ${picked.skipped.join('; ')}.`);
    else if (none) say('Nothing to upload: no files were chosen.');
    this.notes.replaceChildren(...lines);

    if (fresh.length === 0) return;
    if (this.review.enabled) {
      this.review.add(fresh);
      announce(`${count(fresh.length, 'file')} added to the list to upload`);
    } else {
      this.startAll(fresh);
    }
  }

  private startAll(files: PickedFile[]): void {
    for (const p of files) {
      // A failed row for the same file is tried again rather than doubled (a cancelled one stays as it is).
      const earlier = this.current(p);
      if (earlier?.view.state === 'failed') {
        earlier.start();
        continue;
      }
      const { label, details, renamed } = prepare(p);
      const task = this.deps.start(p.file, details);
      this.tasks.add(p, task);
      this.storedName.set(task, details.name ?? p.file.name);
      decorate(task.view.element, label, thumbnailFor(p.file), renamed ? renameNote(details.name!, renamed) : null);
    }
    const only = files.length === 1 ? files[0]! : null;
    announce(only ? `Uploading ${prepare(only).label.text}` : `Uploading ${files.length} files`);
  }

  /** The row for this file still on the page, if any (a dismissed or cleared row is forgotten). */
  private current(p: PickedFile): UploadTask | undefined {
    const task = this.tasks.get(p);
    if (task && !task.view.element.isConnected) {
      this.tasks.delete(task);
      return undefined;
    }
    return task;
  }
}

/** Its label, and the name, metadata and resume identity its upload gets. */
function prepare(p: PickedFile): Prepared {
  const label = readableLabel(p.relativePath ?? p.file.name);
  const { name, reason } = uploadName(p.file.name);
  const details: TaskIntake = { label: label.text };
  if (reason !== null) details.name = name;
  if (p.relativePath !== null) {
    // The same key the command line's directory upload uses.
    details.metadata = { relativePath: p.relativePath };
    // Two folders may each hold an "a.txt" of the same size and time: the path tells them apart.
    details.fingerprint = [p.relativePath, p.file.size, p.file.lastModified];
  }
  return { label, details, renamed: reason };
}

/** Why the file is stored under another name (`later`: it has not been sent yet). */
function renameNote(name: string, reason: string, later = false): HTMLParagraphElement {
  return h('p', { class: 'name-note' }, `${later ? 'Will be stored' : 'Stored'} as “${name}”. ${reason}`);
}

/** The row's full name as its title, a preview, and the note about its name (rows are UploadView's). */
function decorate(row: HTMLElement, label: Label, thumb: HTMLImageElement | null, note: HTMLElement | null): void {
  const name = row.querySelector('.name');
  if (name && label.full !== label.text) name.setAttribute('title', label.full);
  if (thumb) row.querySelector('.upload-head')?.prepend(thumb);
  if (note) row.querySelector('.upload-head')?.after(note);
}

function count(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}
