// What a section hands back: tables, targets with their verdicts, notes. Rendered twice: aligned
// text for the terminal and Markdown for docs/benchmarks.md.

export interface Table {
  title: string;
  intro?: string;
  columns: string[];
  rows: string[][];
  notes?: string[];
}

export interface Target {
  name: string;
  goal: string;
  measured: string;
  /** null: could not be measured (a contender was skipped). */
  met: boolean | null;
}

export interface SectionReport {
  tables: Table[];
  targets: Target[];
  /** Figures other parts of the report derive limits from ("upload.ferry-cli.seconds", ...). */
  facts?: Record<string, number>;
}

export function verdict(met: boolean | null): string {
  return met === null ? 'not measured' : met ? 'met' : 'NOT MET';
}

export function textTable(t: Table): string {
  const all = [t.columns, ...t.rows];
  const widths = t.columns.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  const out = [t.title, ...(t.intro ? wrap(t.intro.replace(/\*\*/g, ''), 110).map((l) => `  ${l}`) : []), line(t.columns), widths.map((w) => '-'.repeat(w)).join('  '), ...t.rows.map(line)];
  for (const n of t.notes ?? []) out.push(`  * ${n}`);
  return out.join('\n');
}

export function markdownTable(t: Table, level = '###'): string {
  const esc = (c: string) => c.replace(/\|/g, '\\|');
  const out = [`${level} ${t.title}`, ''];
  if (t.intro) out.push(t.intro, '');
  out.push(`| ${t.columns.map(esc).join(' | ')} |`);
  out.push(`| ${t.columns.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`);
  for (const r of t.rows) out.push(`| ${r.map(esc).join(' | ')} |`);
  if (t.notes?.length) out.push('', ...t.notes.map((n) => `- ${n}`));
  return out.join('\n');
}

export function targetsTable(targets: Target[]): Table {
  return {
    title: 'Targets',
    columns: ['target', 'goal', 'measured', 'verdict'],
    rows: targets.map((t) => [t.name, t.goal, t.measured, verdict(t.met)]),
  };
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}
