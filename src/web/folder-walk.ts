// What a drop holds: loose files, and every file inside dropped folders with its path. Whatever is
// left out (a folder with no files, an entry the browser cannot read) is named, never dropped silently.

/** A file to upload; relativePath ("photos/2024/a.jpg", '/'-separated) when it came from a folder. */
export interface PickedFile {
  file: File;
  relativePath: string | null;
}

/** What one choice (picker, folder picker, drop, paste) gave: files and what was left out, in words. */
export interface Picked {
  files: PickedFile[];
  skipped: string[];
}

/**
 * Reads a drop. Entries must be taken while the drop event runs (the list is emptied after it), so
 * this is called synchronously from the handler; the folders are then walked asynchronously.
 */
export function readDrop(items: DataTransferItemList): Promise<Picked> {
  const loose: PickedFile[] = [];
  const folders: FileSystemDirectoryEntry[] = [];
  const skipped: string[] = [];
  for (const item of items) {
    // Text or a link dragged with files is another form of the same thing, not something to upload.
    if (item.kind !== 'file') continue;
    const entry = item.webkitGetAsEntry?.() ?? null;
    if (entry?.isDirectory) {
      folders.push(entry as FileSystemDirectoryEntry);
      continue;
    }
    const file = item.getAsFile();
    if (file) loose.push({ file, relativePath: null });
    else skipped.push(`“${entry?.name ?? 'an item'}” is not a file this browser can read`);
  }
  return walkFolders(folders).then((found) => ({ files: [...loose, ...found.files], skipped: [...skipped, ...found.skipped] }));
}

/** Every file under the folders, sorted by path (as the command line sends a directory). */
export async function walkFolders(folders: FileSystemDirectoryEntry[]): Promise<Picked> {
  const out: Picked = { files: [], skipped: [] };
  await Promise.all(folders.map(async (f) => reportEmpty(f, await visit(f, out), out)));
  out.files.sort(byPath);
  return out;
}

/** By path, compared as plain strings (the same order on every machine and locale, as the command line). */
export function byPath(a: PickedFile, b: PickedFile): number {
  const x = a.relativePath ?? a.file.name;
  const y = b.relativePath ?? b.file.name;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** How many files a folder gave, and whether something under it was already said to be left out. */
interface Found {
  files: number;
  said: boolean;
}

/** A folder without files is named once: the outermost one (its empty subfolders go without saying). */
function reportEmpty(dir: FileSystemEntry, found: Found, out: Picked): void {
  if (found.files === 0 && !found.said) out.skipped.push(`the folder “${pathOf(dir)}” has no files`);
}

async function visit(dir: FileSystemDirectoryEntry, out: Picked): Promise<Found> {
  let entries: FileSystemEntry[];
  try {
    entries = await readAll(dir.createReader());
  } catch {
    out.skipped.push(`the folder “${pathOf(dir)}” could not be read`);
    return { files: 0, said: true };
  }
  const found = await Promise.all(
    entries.map(async (entry): Promise<Found & { entry: FileSystemEntry }> => {
      if (entry.isDirectory) return { entry, ...(await visit(entry as FileSystemDirectoryEntry, out)) };
      try {
        if (!entry.isFile) throw new Error('not a file');
        out.files.push({ file: await fileOf(entry as FileSystemFileEntry), relativePath: pathOf(entry) });
        return { entry, files: 1, said: false };
      } catch {
        out.skipped.push(`“${pathOf(entry)}” could not be read`);
        return { entry, files: 0, said: true };
      }
    }),
  );
  const files = found.reduce((n, f) => n + f.files, 0);
  if (files > 0) for (const f of found) if (f.entry.isDirectory) reportEmpty(f.entry, f, out);
  return { files, said: found.some((f) => f.said) };
}

/** readEntries answers in batches (Chromium: 100) until it answers with none. */
async function readAll(reader: FileSystemDirectoryReader): Promise<FileSystemEntry[]> {
  const all: FileSystemEntry[] = [];
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) return all;
    all.push(...batch);
  }
}

function fileOf(entry: FileSystemFileEntry): Promise<File> {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

/** "/photos/2024/a.jpg" as "photos/2024/a.jpg". */
function pathOf(entry: FileSystemEntry): string {
  return entry.fullPath.replace(/^\/+/, '') || entry.name;
}
