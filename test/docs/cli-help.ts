// What the built `ferry` says it accepts: every command (and subcommand) and its options, read from
// `--help` the way a user would, so the docs are checked against the real CLI, not a list kept here.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { root } from './markdown.js';

const cli = join(root, 'dist/cli/main.js');

export interface CommandHelp {
  /** e.g. ['keys', 'create']; [] is `ferry` itself. */
  path: string[];
  options: Set<string>;
  subcommands: string[];
}

function help(path: string[]): string {
  return execFileSync(process.execPath, [cli, ...path, '--help'], { encoding: 'utf8', env: { ...process.env, COLUMNS: '80' } });
}

/** A help text's section ("Options:", "Commands:"): its lines up to the next blank line. */
function section(text: string, title: string): string[] {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => l.trim() === title);
  if (at < 0) return [];
  const end = lines.findIndex((l, i) => i > at && l.trim() === '');
  return lines.slice(at + 1, end < 0 ? undefined : end);
}

/** Every command of the CLI, found by walking `--help` from the top. */
export function allCommands(): Map<string, CommandHelp> {
  const found = new Map<string, CommandHelp>();
  const visit = (path: string[]) => {
    const text = help(path);
    // A definition line starts two spaces in; wrapped descriptions are indented further.
    const options = new Set(section(text, 'Options:').flatMap((l) => /^ {2}(?:-[A-Za-z], )?(--[a-z0-9][a-z0-9-]*)/.exec(l)?.[1] ?? []));
    const subcommands = section(text, 'Commands:').flatMap((l) => /^ {2}([a-z][a-z0-9-]*)/.exec(l)?.[1] ?? []).filter((c) => c !== 'help');
    found.set(path.join(' '), { path, options, subcommands });
    for (const sub of subcommands) visit([...path, sub]);
  };
  visit([]);
  return found;
}
