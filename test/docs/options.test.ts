// Every `ferry` command and option the docs (README.md, docs/*.md) mention exists in the built CLI's
// `--help`. In a command line (a code line, or an inline `code` span), an option after `ferry <command>`
// (or `npm start --`, which is `ferry serve`) must be that command's; an option mentioned on its own
// must be some command's, or one of the few other tools' options listed below.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { allCommands, type CommandHelp } from './cli-help.js';
import { codeBlocks, docs, prose, root } from './markdown.js';

/** Options of other tools that the docs show, and where each is defined (checked below). */
const otherTools: Record<string, { tool: string; source?: string }> = {
  '--single-threaded-gc': { tool: 'node (V8)' },
  '--trace-gc': { tool: 'node (V8)' },
  '--prefix': { tool: 'npm' },
  '--allow-scripts': { tool: 'npm' },
  '--quick': { tool: 'npm run chaos', source: 'test/chaos/run.ts' },
  '--form': { tool: 'npm run chaos', source: 'test/chaos/run.ts' },
  '--level': { tool: 'npm run chaos', source: 'test/chaos/run.ts' },
  '--no-write': { tool: 'npm run chaos', source: 'test/chaos/run.ts' },
  '--only': { tool: 'npm run chaos, npm run abuse', source: 'test/abuse/run.ts' },
  '--write': { tool: 'npm run abuse', source: 'test/abuse/run.ts' },
  '--sections': { tool: 'npm run bench', source: 'bench/run.ts' },
  '--rounds': { tool: 'npm run bench', source: 'bench/run.ts' },
  '--baseline': { tool: 'npm run bench', source: 'bench/run.ts' },
  '--out': { tool: 'npm run bench', source: 'bench/run.ts' },
  '--wan-size': { tool: 'npm run bench', source: 'bench/run.ts' },
  '--wan-rounds': { tool: 'npm run bench', source: 'bench/run.ts' },
  '--wan-profiles': { tool: 'npm run bench', source: 'bench/run.ts' },
  '--profile': { tool: 'bench/tools/link-ramp.ts, link-ceiling.ts', source: 'bench/tools/link-ramp.ts' },
  '--dir': { tool: 'bench/tools/link-ramp.ts, link-ceiling.ts', source: 'bench/tools/link-ramp.ts' },
  '--total': { tool: 'bench/tools/link-ramp.ts, link-ceiling.ts', source: 'bench/tools/link-ramp.ts' },
  '--request': { tool: 'bench/tools/link-ramp.ts', source: 'bench/tools/link-ramp.ts' },
  '--start': { tool: 'bench/tools/link-ramp.ts', source: 'bench/tools/link-ramp.ts' },
  '--n': { tool: 'bench/tools/link-ceiling.ts', source: 'bench/tools/link-ceiling.ts' },
  '--max-tries': { tool: 'aria2c (the bench WAN rows)' },
  '--retry': { tool: 'curl (the bench WAN rows)' },
};

interface Mention {
  where: string;
  option: string;
  /** The command it follows on its command line, e.g. 'keys create'; null when on its own. */
  command: string | null;
}

interface CommandMention {
  where: string;
  path: string;
}

const optionPattern = /(?<![\w-])--[a-z0-9][a-z0-9-]*\*?/g;
// Where a ferry command starts: `ferry <cmd>` / `npx ferry <cmd>`, the script run by node
// (…/ferry.js <cmd>, dist/cli/main.js <cmd>), and `npm start` (= ferry serve).
const commandPattern = /(?<![\w./-])(?:npx\s+)?ferry\s+([a-z][a-z0-9-]*)|(?:\/ferry\.js|dist\/cli\/main\.js)\s+([a-z][a-z0-9-]*)|\bnpm\s+start\b/g;

let commands: Map<string, CommandHelp>;
let union: Set<string>;

/** One command line: its ferry commands (resolved to subcommands) and the options each takes. */
function scanCommandLine(text: string, where: string, options: Mention[], named: CommandMention[]): void {
  const starts: Array<{ at: number; path: string }> = [];
  for (const m of text.matchAll(commandPattern)) {
    const words = m[0].startsWith('npm') ? ['serve'] : [m[1] ?? m[2]!];
    // Subcommands: `ferry keys create` is the command "keys create".
    const rest = text.slice(m.index! + m[0].length).split(/\s+/).filter(Boolean);
    while (commands.get(words.join(' '))?.subcommands.includes(rest[0] ?? '')) words.push(rest.shift()!);
    starts.push({ at: m.index! + m[0].length, path: words.join(' ') });
    named.push({ where, path: words.join(' ') });
  }
  for (const m of text.matchAll(optionPattern)) {
    const owner = starts.filter((s) => s.at <= m.index!).pop();
    options.push({ where, option: m[0], command: owner ? owner.path : null });
  }
}

function mentions(): { options: Mention[]; named: CommandMention[] } {
  const options: Mention[] = [];
  const named: CommandMention[] = [];
  for (const doc of docs()) {
    for (const block of codeBlocks(doc)) {
      if (block.lang === 'http') continue;
      // Lines continued with a backslash are one command.
      const lines = block.text.replace(/\\\n/g, ' ').split('\n');
      lines.forEach((line, i) => {
        const where = `${doc.file}:${block.line + 1 + i}`;
        const comment = /(^|\s)#(\s|$)/.exec(line);
        scanCommandLine(comment ? line.slice(0, comment.index) : line, where, options, named);
        if (comment) for (const m of line.slice(comment.index).matchAll(optionPattern)) options.push({ where, option: m[0], command: null });
      });
    }
    prose(doc)
      .split('\n')
      .forEach((line, i) => {
        const where = `${doc.file}:${i + 1}`;
        for (const span of line.matchAll(/`([^`]+)`/g)) scanCommandLine(span[1]!, where, options, named);
        for (const m of line.replace(/`[^`]+`/g, '').matchAll(optionPattern)) options.push({ where, option: m[0], command: null });
      });
  }
  return { options, named };
}

function accepts(options: Set<string>, option: string): boolean {
  if (option === '--help') return true;
  if (option.endsWith('*')) return [...options].some((o) => o.startsWith(option.slice(0, -1)));
  return options.has(option);
}

beforeAll(() => {
  commands = allCommands();
  union = new Set([...commands.values()].flatMap((c) => [...c.options]));
});

describe('the docs against `ferry --help`', () => {
  it('finds the CLI and the mentions (the checks below are not vacuous)', () => {
    expect([...commands.keys()]).toEqual(expect.arrayContaining(['serve', 'upload', 'download', 'status', 'keys create']));
    expect(commands.get('serve')!.options.has('--port')).toBe(true);
    const { options, named } = mentions();
    expect(options.filter((m) => m.command === 'serve').length).toBeGreaterThan(10);
    expect(named.length).toBeGreaterThan(20);
  });

  it('every `ferry <command>` the docs show is a command', () => {
    const unknown = mentions().named.filter((n) => !commands.has(n.path));
    expect(unknown.map((n) => `${n.where}: ferry ${n.path}`)).toEqual([]);
  });

  it('every option on a ferry command line is an option of that command', () => {
    const wrong = mentions().options.filter((m) => m.command !== null && commands.has(m.command) && !accepts(commands.get(m.command)!.options, m.option));
    expect(wrong.map((m) => `${m.where}: ferry ${m.command} ${m.option}`)).toEqual([]);
  });

  it('every option mentioned on its own is a ferry option or a listed other tool\'s', () => {
    const wrong = mentions().options.filter((m) => m.command === null && !accepts(union, m.option) && !(m.option in otherTools));
    expect(wrong.map((m) => `${m.where}: ${m.option}`)).toEqual([]);
  });

  it('the other tools\' options exist there, and are still mentioned', () => {
    const v8 = execFileSync(process.execPath, ['--v8-options'], { encoding: 'utf8' });
    const loose = new Set(mentions().options.filter((m) => m.command === null).map((m) => m.option));
    for (const [option, { tool, source }] of Object.entries(otherTools)) {
      expect(loose.has(option), `${option} (${tool}) is no longer in the docs: drop it from this list`).toBe(true);
      if (tool.startsWith('node')) expect(v8, option).toContain(`${option} `);
      if (source) {
        const name = option.slice(2);
        expect(readFileSync(join(root, source), 'utf8'), `${option} in ${source}`).toMatch(new RegExp(`['"]?\\b${name}['"]?\\s*:\\s*\\{\\s*type`));
      }
    }
  });

  it('`ferry serve --help` shows the default of every option that takes a value, as docs/operations.md says', () => {
    expect(readFileSync(join(root, 'docs/operations.md'), 'utf8')).toContain('ferry serve --help             # every option, with its default');
    const help = execFileSync(process.execPath, [join(root, 'dist/cli/main.js'), 'serve', '--help'], { encoding: 'utf8', env: { ...process.env, COLUMNS: '80' } });
    // One entry per option: its definition line and the description lines wrapped under it.
    const entries = help.split(/\n(?= {2}-)/).filter((e) => /^ {2}(?:-\w, )?--[\w-]+ </.test(e));
    expect(entries.length).toBeGreaterThan(20);
    expect(entries.filter((e) => !/default/.test(e)).map((e) => e.split('\n')[0]!.trim())).toEqual([]);
  });

  it('README states the Node versions package.json engines admits', () => {
    const engines = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).engines.node;
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const minimum = /^>=(\d+\.\d+\.\d+)$/.exec(engines)?.[1];
    expect(minimum, `engines.node ${engines}`).toBeDefined();
    expect(readme).toContain(`Node.js ${minimum} or later`);
  });

  it('catches an option that does not exist (the check itself works)', () => {
    const options: Mention[] = [];
    scanCommandLine('ferry serve --port 1 --tombstone 7d', 'example', options, []);
    expect(options.filter((m) => !accepts(commands.get(m.command!)!.options, m.option)).map((m) => m.option)).toEqual(['--tombstone']);
    expect(accepts(union, '--tombstone')).toBe(false);
  });
});
