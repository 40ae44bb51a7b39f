// A bad option value is one line on stderr and exit status 2, whatever the option's parser threw:
// `ferry upload: --concurrency: expected "auto" or an integer from 1 to 64, not "abc".`
// Without this, a parser that throws a plain Error escapes commander (Node then prints the throwing line
// of the minified bundle and a stack trace), and one that throws InvalidArgumentError is followed by the
// whole --help text.
import { InvalidArgumentError, type Command, type Option } from 'commander';

/** Exit status of a command line that cannot run as written (as `ferry grant`/`migrate` use for their own checks). */
export const UsageExitCode = 2;

interface Rejection {
  option: Option;
  value: string;
  reason: string;
}

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
      if (options?.code !== 'commander.invalidArgument') return fail(message, options);
      const line = last ? describe(last, message) : message.replace(/^error: /, '');
      last = undefined;
      // One line: no help after it (showHelpAfterError is on for the other usage errors).
      command.showHelpAfterError(false);
      return fail(`${commandPath(command)}: ${line}`, { code: options.code, exitCode: UsageExitCode });
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

function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}
