// A command line that cannot run is one line on stderr and exit status 2, never the whole --help:
// `ferry upload: --concurrency: expected "auto" or an integer from 1 to 64, not "abc".`
// `ferry upload: unknown option '--foo' (see ferry upload --help)`
// Without this, a parser that throws a plain Error escapes commander (Node then prints the throwing line
// of the minified bundle and a stack trace), and commander's own usage errors come with the help text.
import { InvalidArgumentError, type Command, type Option } from 'commander';

/** Exit status of a command line that cannot run as written (as `ferry grant`/`migrate` use for their own checks). */
export const UsageExitCode = 2;

interface Rejection {
  option: Option;
  value: string;
  reason: string;
}

/** commander's errors about the shape of the command line (not about one option's value). */
const usageCodes = new Set([
  'commander.unknownOption',
  'commander.unknownCommand',
  'commander.missingArgument',
  'commander.optionMissingArgument',
  'commander.missingMandatoryOptionValue',
  'commander.excessArguments',
  'commander.conflictingOption',
]);

/** Applies to `program` and every command under it; call once every command is registered. */
export function oneLineOptionErrors(program: Command): void {
  let last: Rejection | undefined;
  const visit = (command: Command): void => {
    for (const option of command.options) {
      const parse = option.parseArg;
      if (!parse) continue;
      option.argParser((value: string, previous: unknown) => {
        try {
          return parse.call(option, value, previous);
        } catch (error) {
          const reason = error instanceof Error ? error.message : String(error);
          last = { option, value, reason };
          throw error instanceof InvalidArgumentError ? error : new InvalidArgumentError(reason);
        }
      });
    }
    const fail = command.error.bind(command);
    command.error = (message: string, options?: { code?: string; exitCode?: number }): never => {
      const code = options?.code ?? '';
      let line: string;
      if (code === 'commander.invalidArgument') {
        line = last ? describe(last, message) : message.replace(/^error: /, '');
        last = undefined;
      } else if (usageCodes.has(code)) {
        line = `${usage(message)} (${hint(command)})`;
      } else {
        return fail(message, options);
      }
      command.showHelpAfterError(false);
      return fail(`${commandPath(command)}: ${line}`, { code, exitCode: UsageExitCode });
    };
    command.commands.forEach(visit);
  };
  visit(program);
}

function describe({ option, value, reason }: Rejection, message: string): string {
  const name = option.long ?? option.short ?? option.flags;
  const fromEnv = option.envVar && / from env '/.test(message) ? ` (from $${option.envVar})` : '';
  // commander's own reason for .choices(): "Allowed choices are open, token."
  const text = reason.trim().replace(/\.$/, '').replace(/^Allowed choices are /, 'expected one of ');
  // Reasons that quote the value already ('"abc" is not a size (examples: …)') are not told it twice.
  return text.includes(`"${value}"`) ? `${name}${fromEnv}: ${text}.` : `${name}${fromEnv}: ${text}, not ${JSON.stringify(value)}.`;
}

/** commander's message on one line: "error: unknown option '--forc'\n(Did you mean --force?)" -> "unknown option '--forc'; did you mean --force?" */
function usage(message: string): string {
  const [line, ...rest] = message.replace(/^error: /, '').split('\n');
  const first = line!.replace(/\.$/, '');
  const suggestion = rest.join(' ').trim().replace(/^\((.*)\)$/, '$1');
  return suggestion ? `${first}; ${suggestion.charAt(0).toLowerCase()}${suggestion.slice(1)}` : first;
}

function hint(command: Command): string {
  return `see ${commandPath(command)} --help`;
}

function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}
