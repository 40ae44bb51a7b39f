// What a transfer leaves on stdout: its result, and nothing else (progress and notices go to stderr),
// so `url=$(ferry upload big.bin)` works.
//   stdout a terminal:             big.bin → http://host/files/…     (upload; a download: big.bin ← URL)
//   piped, one file named:         http://host/files/…               (a download: the saved path)
//   piped, several files or a dir: big.bin<TAB>http://host/files/…   (one line per file)
// With --json nothing is written here: the 'done' events carry the results.
import { printable } from './output-width.js';

export type ResultForm = 'terminal' | 'bare' | 'table' | 'none';

/**
 * The form for this run. `single` is true when the command line names exactly one file (not a
 * directory): scripts then get the bare URL, whatever happens at run time.
 */
export function chooseResultForm(json: boolean, single: boolean, stream: NodeJS.WriteStream = process.stdout): ResultForm {
  if (json) return 'none';
  if (stream.isTTY) return 'terminal';
  return single ? 'bare' : 'table';
}

/**
 * One result line. `local` is what the user knows the file by (the argument, a path relative to an
 * uploaded directory, the saved file); `value` is what a script wants (the URL, the saved path).
 */
export function resultLine(form: ResultForm, kind: 'upload' | 'download', local: string, remote: string, value: string): string | null {
  switch (form) {
    case 'terminal':
      return kind === 'upload' ? `${printable(local)} → ${remote}` : `${printable(local)} ← ${remote}`;
    case 'bare':
      return value;
    case 'table':
      return `${printable(local)}\t${value}`;
    case 'none':
      return null;
  }
}

export function writeResult(form: ResultForm, kind: 'upload' | 'download', local: string, remote: string, value: string): void {
  const line = resultLine(form, kind, local, remote, value);
  if (line !== null) process.stdout.write(line + '\n');
}
