// How many terminal columns text takes, and cutting it to fit: a line wider than the terminal wraps,
// and a wrapped line can no longer be redrawn in place.

/** Wide (two-column) ranges: CJK, Hangul, full-width forms, most emoji. */
const wide = /[\u1100-\u115F\u2E80-\u303E\u3041-\u33FF\u3400-\u4DBF\u4E00-\u9FFF\uA000-\uA4CF\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\uFFE0-\uFFE6\u{1F300}-\u{1F64F}\u{1F900}-\u{1F9FF}\u{20000}-\u{3FFFD}]/u;
/** Zero-width: combining marks and format characters. */
const zero = /[\p{M}\p{Cf}]/u;

/** Emoji shown as emoji by default (🚀 ✅ ⚡ ⭐ 🪐): terminals give them two columns. */
const emoji = /\p{Emoji_Presentation}/u;

function charWidth(ch: string): number {
  if (zero.test(ch)) return 0;
  return wide.test(ch) || emoji.test(ch) ? 2 : 1;
}

export function displayWidth(text: string): number {
  let n = 0;
  for (const ch of text) n += charWidth(ch);
  return n;
}

/** `text` cut to at most `columns` columns, ending in "…" when something was cut. */
export function fitEnd(text: string, columns: number): string {
  if (displayWidth(text) <= columns) return text;
  if (columns <= 0) return '';
  let out = '';
  let used = 0;
  for (const ch of text) {
    const w = charWidth(ch);
    if (used + w > columns - 1) break;
    out += ch;
    used += w;
  }
  return out + '…';
}

/** `text` cut in the middle to at most `columns` columns, so a file name keeps its start and extension. */
export function fitMiddle(text: string, columns: number): string {
  if (displayWidth(text) <= columns) return text;
  if (columns < 5) return fitEnd(text, columns);
  const chars = [...text];
  const keepEnd = Math.floor((columns - 1) / 2);
  let tail = '';
  let tailWidth = 0;
  for (let i = chars.length - 1; i >= 0; i--) {
    const w = charWidth(chars[i]!);
    if (tailWidth + w > keepEnd) break;
    tail = chars[i]! + tail;
    tailWidth += w;
  }
  return fitEnd(text, columns - tailWidth).replace(/…$/, '') + '…' + tail;
}

/** Control characters (a tab or newline in a file name, an escape sequence) shown as "?": output stays one line each. */
export function printable(text: string): string {
  return text.replace(/\p{Cc}/gu, '?');
}
