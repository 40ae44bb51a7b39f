// Which files `ferry upload a.txt photos/` sends: each file argument as it is, and every regular file
// under each directory argument with its path relative to that directory, sorted by that path
// (compared as plain strings, so the order is the same on every machine and locale). Symbolic
// links inside a directory are not followed (a link could lead out of it, or in circles); a symbolic
// link named on the command line is, as every tool that opens a file does.
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';

export interface UploadItem {
  /** Absolute path to open. */
  path: string;
  /**
   * How output names it: the argument as typed; for a file found in a directory, its path relative to
   * that directory, prefixed by the directory argument when there are several (x/a.txt and y/a.txt).
   */
  label: string;
  /** For a file found in a directory: its path relative to that directory, '/'-separated. */
  relativePath: string | null;
}

/** Something to say about one argument (`label`, as typed) or a directory under it. */
export interface Remark {
  label: string;
  message: string;
}

export interface Expanded {
  items: UploadItem[];
  /** What makes the run fail though other files go: an empty directory, one that cannot be read. */
  problems: Remark[];
  /** What the user should know that is not a failure: symbolic links not followed. */
  notices: Remark[];
  /** True when exactly one argument was given and it is not a directory. */
  single: boolean;
}

export async function expandUploadArgs(args: string[]): Promise<Expanded> {
  const out: Expanded = { items: [], problems: [], notices: [], single: false };
  let directories = 0;
  for (const arg of args) {
    const path = resolve(arg);
    const isDir = await stat(path).then((s) => s.isDirectory(), () => false);
    // Anything else (missing, unreadable) goes to the upload, which says what is wrong with it.
    if (!isDir) {
      out.items.push({ path, label: arg, relativePath: null });
      continue;
    }
    directories++;
    const found = await walk(path, arg, args.length > 1);
    if (found.skippedLinks > 0) out.notices.push({ label: arg, message: `${found.skippedLinks} symbolic link${found.skippedLinks === 1 ? '' : 's'} not followed` });
    out.problems.push(...found.problems);
    if (found.items.length === 0 && found.problems.length === 0) out.problems.push({ label: arg, message: 'empty directory (no files under it): nothing to upload' });
    out.items.push(...found.items);
  }
  out.single = args.length === 1 && directories === 0;
  return out;
}

async function walk(root: string, arg: string, prefixArg: boolean): Promise<{ items: UploadItem[]; problems: Remark[]; skippedLinks: number }> {
  const items: UploadItem[] = [];
  const problems: Remark[] = [];
  let skippedLinks = 0;
  const visit = async (dir: string, prefix: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      problems.push({ label: join(arg, prefix), message: `cannot read the directory (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` });
      return;
    }
    for (const entry of entries) {
      const relativePath = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
      if (entry.isSymbolicLink()) skippedLinks++;
      else if (entry.isFile()) items.push({ path: join(dir, entry.name), label: prefixArg ? `${withoutSlash(arg)}/${relativePath}` : relativePath, relativePath });
      else if (entry.isDirectory()) await visit(join(dir, entry.name), relativePath);
      // Sockets, FIFOs and devices are not files to upload.
    }
  };
  await visit(root, '');
  items.sort((a, b) => (a.relativePath! < b.relativePath! ? -1 : a.relativePath! > b.relativePath! ? 1 : 0));
  return { items, problems, skippedLinks };
}

/** `photos/` as `photos`, so a label reads photos/a.jpg; `/` stays itself (its files read /a.jpg). */
function withoutSlash(arg: string): string {
  return arg.replace(/\/+$/, '');
}
