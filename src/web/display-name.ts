// Names people can read, whatever a file is called: a blank name, invisible characters or a very long
// name must still give a row a visible label. And a name the server would refuse gets a stand-in
// that it accepts. Pure (no DOM), so it is unit-tested in Node.
import { DefaultLimits, fileNameProblem, hiddenCharacterClass, isBlankFileName } from '../protocol/index.js';

/** What a row says for a file whose name shows nothing. */
export const unnamedLabel = '(unnamed file)';
/** What such a file is stored as. */
export const unnamedName = 'unnamed file';
/** Labels longer than this are shortened in the middle (the whole name is the row's title). */
export const maxLabelLength = 80;

/** Characters that do not show as themselves: the server's list, and the braille blank. */
const invisible = new RegExp(`[${hiddenCharacterClass}\\u2800]`, 'gu');

export interface Label {
  /** The row's label: readable, at most maxLabelLength characters. */
  text: string;
  /** The whole readable name (for a title / tooltip). */
  full: string;
}

/**
 * A label for a file name or a folder path ("photos/2024/a.jpg"). A name the server accepts is shown
 * as it is; any other has its invisible characters drawn as ⟨U+202E⟩ and spaces at its ends as ␣.
 */
export function readableLabel(pathOrName: string): Label {
  const full = pathOrName.split('/').map(readableSegment).join('/');
  return { text: shorten(full, maxLabelLength), full };
}

function readableSegment(name: string): string {
  if (fileNameProblem(name) === null) return name;
  const marked = name.replace(invisible, (c) => `⟨U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}⟩`);
  if (isBlankFileName(name)) return name.length === 0 ? unnamedLabel : `${unnamedLabel} “${visibleSpaces(marked)}”`;
  return visibleSpaces(marked);
}

/** Spaces at the ends of a name as ␣, so "  a  " does not read as "a". */
function visibleSpaces(text: string): string {
  return text.replace(/^\s+|\s+$/g, (run) => '␣'.repeat([...run].length));
}

/** "a very long … name.txt": the end kept (extensions matter), whole code points only. */
export function shorten(text: string, max: number): string {
  const chars = [...text];
  if (chars.length <= max) return text;
  const tail = Math.min(24, Math.floor(max / 3));
  return `${chars.slice(0, max - tail - 1).join('')}…${chars.slice(chars.length - tail).join('')}`;
}

export interface UploadName {
  /** The name to create the upload with. */
  name: string;
  /** Why it differs from the file's own name (the server's reason), or null when it does not. */
  reason: string | null;
}

/**
 * The name to store a file under: its own when the server accepts it; otherwise the same name with
 * what the server refuses taken out (invisible characters, slashes), shortened to the limit, or
 * "unnamed file" when nothing visible is left.
 */
export function uploadName(name: string, maxLength: number = DefaultLimits.maxNameLength): UploadName {
  const reason = fileNameProblem(name, maxLength);
  if (reason === null) return { name, reason: null };
  let fixed = name
    .replace(/[/\\]/g, '_')
    .replace(/[\p{Cc}\p{Zl}\p{Zp}]/gu, ' ')
    .replace(invisible, '')
    .replace(/\s+/g, (run) => (run.length > 1 ? ' ' : run))
    .trim();
  if (fixed.length > maxLength) fixed = shortenKeepingExtension(fixed, maxLength);
  if (fixed === '.' || fixed === '..' || fileNameProblem(fixed, maxLength) !== null) fixed = unnamedName;
  return { name: fixed, reason };
}

/** At most `max` UTF-16 units (the server's measure), cut between code points, the extension kept. */
function shortenKeepingExtension(name: string, max: number): string {
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : '';
  let base = '';
  for (const c of name.slice(0, name.length - ext.length)) {
    if (base.length + c.length + ext.length > max) break;
    base += c;
  }
  return base.trimEnd() + ext;
}
