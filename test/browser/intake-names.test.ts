// How the page names files it is given (src/web/display-name.ts) and tells a repeat (duplicates.ts):
// pure modules, run in Node. The page itself is tested in intake.test.ts and intake-review.test.ts.
import { describe, expect, it } from 'vitest';
import { fileNameProblem } from '../../src/protocol/index.js';
import { maxLabelLength, readableLabel, shorten, unnamedLabel, unnamedName, uploadName } from '../../src/web/display-name.js';
import { fileKey, withoutRepeats } from '../../src/web/duplicates.js';

describe('readable labels', () => {
  it('an ordinary name or folder path is shown as it is', () => {
    expect(readableLabel('report.pdf')).toEqual({ text: 'report.pdf', full: 'report.pdf' });
    expect(readableLabel('album/2024/a b.jpg').text).toBe('album/2024/a b.jpg');
    expect(readableLabel('👨\u200D👩\u200D👧.png').text).toBe('👨\u200D👩\u200D👧.png');
  });

  it('a blank name says so, with its spaces made visible', () => {
    expect(readableLabel('   ').text).toBe(`${unnamedLabel} “␣␣␣”`);
    expect(readableLabel('').text).toBe(unnamedLabel);
    expect(readableLabel('\u00A0').text).toBe(`${unnamedLabel} “␣”`);
    expect(readableLabel('\u200B').text).toBe(`${unnamedLabel} “⟨U+200B⟩”`);
    // A blank folder name inside a path too.
    expect(readableLabel('  /a.txt').text).toBe(`${unnamedLabel} “␣␣”/a.txt`);
  });

  it('invisible and control characters are drawn as their code points', () => {
    expect(readableLabel('invoice\u202Efdp.exe').text).toBe('invoice⟨U+202E⟩fdp.exe');
    expect(readableLabel('a\tb.txt').text).toBe('a⟨U+0009⟩b.txt');
    expect(readableLabel('a\u0000b').text).toBe('a⟨U+0000⟩b');
  });

  it('a very long name is shortened in the middle, the end kept; the whole name is the title', () => {
    const long = `${'x'.repeat(300)}-final.tar.gz`;
    const label = readableLabel(long);
    expect([...label.text].length).toBe(maxLabelLength);
    expect(label.text).toMatch(/^x+….*-final\.tar\.gz$/);
    expect(label.full).toBe(long);
    expect(shorten('😀'.repeat(100), 10)).toBe(`${'😀'.repeat(6)}…${'😀'.repeat(3)}`);
  });
});

describe('the name a file is stored under', () => {
  it('its own when the server accepts it', () => {
    expect(uploadName('report.pdf')).toEqual({ name: 'report.pdf', reason: null });
    expect(uploadName('  padded  ')).toEqual({ name: '  padded  ', reason: null });
  });

  it('a stand-in the server accepts, and why, when it would refuse it', () => {
    for (const [given, stored] of [
      ['   ', unnamedName],
      ['', unnamedName],
      ['\u3164', unnamedName],
      ['a\tb.txt', 'a b.txt'],
      ['invoice\u202Efdp.exe', 'invoicefdp.exe'],
      ['a/b\\c.txt', 'a_b_c.txt'],
      ['..', unnamedName],
      [`${'y'.repeat(300)}.txt`, `${'y'.repeat(251)}.txt`],
      [`${'😀'.repeat(200)}.png`, `${'😀'.repeat(125)}.png`],
    ] as const) {
      const { name, reason } = uploadName(given);
      expect(name, JSON.stringify(given)).toBe(stored);
      expect(reason, JSON.stringify(given)).toBe(fileNameProblem(given));
      expect(fileNameProblem(name), JSON.stringify(given)).toBeNull();
    }
  });
});

describe('repeats', () => {
  const file = (name: string, size: number, lastModified: number) => new File(['x'.repeat(size)], name, { lastModified });

  it('the same name, size and time is the same file; a folder path tells same-named files apart', () => {
    const a = file('a.txt', 3, 1000);
    expect(fileKey({ file: a, relativePath: null })).toBe(fileKey({ file: file('a.txt', 3, 1000), relativePath: null }));
    expect(fileKey({ file: a, relativePath: null })).not.toBe(fileKey({ file: file('a.txt', 3, 2000), relativePath: null }));
    expect(fileKey({ file: a, relativePath: 'x/a.txt' })).not.toBe(fileKey({ file: a, relativePath: 'y/a.txt' }));
  });

  it('a file given twice in one choice counts once', () => {
    const a = file('a.txt', 3, 1000);
    const { unique, repeats } = withoutRepeats([
      { file: a, relativePath: null },
      { file: file('a.txt', 3, 1000), relativePath: null },
      { file: a, relativePath: 'd/a.txt' },
    ]);
    expect(unique).toHaveLength(2);
    expect(repeats).toBe(1);
  });
});
