// Reading the docs as data: README.md and docs/*.md, their fenced code blocks and the `<!-- docs-test:
// … -->` marker a block may carry on the line before it (see examples.test.ts).
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const root = resolve(import.meta.dirname, '../..');

export interface Doc {
  /** Path from the repository root, e.g. docs/protocol.md. */
  file: string;
  text: string;
}

export interface CodeBlock {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The fence's info string (`http`, `sh`, ...), '' when none. */
  lang: string;
  /** What follows `docs-test:` in a marker on the line before the fence, else null. */
  marker: string | null;
  text: string;
}

export function docs(): Doc[] {
  const names = ['README.md', ...readdirSync(join(root, 'docs')).filter((n) => n.endsWith('.md')).sort().map((n) => `docs/${n}`)];
  return names.map((file) => ({ file, text: readFileSync(join(root, file), 'utf8') }));
}

export function codeBlocks(doc: Doc): CodeBlock[] {
  const lines = doc.text.split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\S*)/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]!); j++) body.push(lines[j]!.slice(Math.min(indent, lines[j]!.search(/\S|$/))));
    const marker = /<!--\s*docs-test:\s*(.*?)\s*-->/.exec(lines[i - 1] ?? '');
    blocks.push({ file: doc.file, line: i + 1, lang: open[2]!, marker: marker ? marker[1]! : null, text: body.join('\n') });
    i = j;
  }
  return blocks;
}

/** The text outside code blocks, block lines replaced by empty ones (so line numbers stay right). */
export function prose(doc: Doc): string {
  let inside = false;
  return doc.text
    .split('\n')
    .map((line) => {
      if (/^\s*```/.test(line)) {
        inside = !inside;
        return '';
      }
      return inside ? '' : line;
    })
    .join('\n');
}
