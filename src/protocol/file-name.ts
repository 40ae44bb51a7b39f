// Which display names a file may have: the server's rule, here so a client can check a name before it uploads.
import { DefaultLimits } from './limits.js';
import { FerryError } from './problems.js';

/**
 * Characters that do not show as themselves: controls (C0, DEL, C1), format characters (bidirectional
 * overrides, embeddings and isolates: "x<U+202E>gnp.exe" shows as "xexe.png"; zero-width spaces and
 * joiners; the byte order mark), line and paragraph separators, halves of surrogate pairs, and the
 * Hangul fillers (letters that draw nothing).
 */
export const hiddenCharacterClass = '\\p{Cc}\\p{Cf}\\p{Zl}\\p{Zp}\\p{Cs}\\u115F\\u1160\\u3164\\uFFA0';
const hiddenCharacter = new RegExp(`[${hiddenCharacterClass}]`, 'u');

/**
 * The two format characters that writing needs: zero-width non-joiner and joiner, between letters,
 * marks or symbols other than ASCII (Persian and Indic words, emoji sequences such as a family).
 * Between ASCII characters they could only make "report.pdf" and "re<ZWJ>port.pdf" look the same.
 */
const writtenJoiner = /(?<=[\p{L}\p{M}\p{S}])(?<![\0-\x7F])[\u200C\u200D](?=[\p{L}\p{M}\p{S}])(?![\0-\x7F])/gu;

/**
 * Characters that draw nothing, or only empty space: white space of every kind, the hidden characters
 * above, and the braille blank (a "letter" that looks like a space).
 */
const blankOnly = /^[\p{White_Space}\p{Cc}\p{Cf}\p{Zl}\p{Zp}\u115F\u1160\u3164\uFFA0\u2800]*$/u; // the class above but \p{Cs}, + white space and U+2800

/** Whether `name` shows nothing at all: empty, or only spaces and invisible characters. */
export function isBlankFileName(name: string): boolean {
  return blankOnly.test(name);
}

/** Why `name` cannot be a file's name (which problem type, and in words), or null when it can. */
function nameCheck(name: string, maxLength: number): { code: 'blank-file-name' | 'invalid-file-name'; detail: string } | null {
  const invalid = (detail: string) => ({ code: 'invalid-file-name' as const, detail });
  if (isBlankFileName(name)) return { code: 'blank-file-name', detail: 'A file name needs at least one visible character; this one is empty or only spaces.' };
  if (name.length > maxLength) return invalid(`File names are 1-${maxLength} characters.`);
  if (/[/\\]/.test(name) || name === '.' || name === '..') return invalid('File names cannot contain "/" or "\\", or be "." or "..".');
  const hidden = hiddenCharacter.exec(name.replace(writtenJoiner, ''));
  if (hidden) {
    const code = hidden[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    return invalid(`File names cannot contain control or invisible formatting characters (here U+${code}).`);
  }
  return null;
}

/** Why `name` cannot be a file's name, or null when it can. */
export function fileNameProblem(name: string, maxLength: number = DefaultLimits.maxNameLength): string | null {
  return nameCheck(name, maxLength)?.detail ?? null;
}

/** Throws blank-file-name or invalid-file-name (both 400) unless `name` is acceptable. */
export function checkFileName(name: string, maxLength: number = DefaultLimits.maxNameLength): void {
  const problem = nameCheck(name, maxLength);
  if (problem) throw new FerryError(problem.code, problem.detail);
}
