// Recognising a file chosen again: the same name (folder path included), size and modification time
// is the same file, as far as a page can tell without reading it. Pure bookkeeping, no DOM.
import type { PickedFile } from './folder-walk.js';

/** The identity of a chosen file on this page. */
export function fileKey(p: PickedFile): string {
  return JSON.stringify([p.relativePath ?? p.file.name, p.file.size, p.file.lastModified]);
}

/** Things (upload rows, review entries) by the file they are for. */
export class KeyedSet<T> {
  private readonly byKey = new Map<string, T>();
  private readonly keys = new Map<T, string>();

  get(p: PickedFile): T | undefined {
    return this.byKey.get(fileKey(p));
  }

  add(p: PickedFile, value: T): void {
    const key = fileKey(p);
    this.byKey.set(key, value);
    this.keys.set(value, key);
  }

  delete(value: T): void {
    const key = this.keys.get(value);
    if (key === undefined) return;
    this.keys.delete(value);
    if (this.byKey.get(key) === value) this.byKey.delete(key);
  }

  values(): T[] {
    return [...this.keys.keys()];
  }

  clear(): void {
    this.byKey.clear();
    this.keys.clear();
  }
}

/** The files of one choice without repeats (the same file dropped loose and inside a folder counts once per path). */
export function withoutRepeats(files: PickedFile[]): { unique: PickedFile[]; repeats: number } {
  const seen = new Set<string>();
  const unique = files.filter((f) => {
    const key = fileKey(f);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return { unique, repeats: files.length - unique.length };
}
