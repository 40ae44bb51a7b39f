// `ferry grant`: signs a short-lived grant (a JWT) locally with a secret the server verifies grants with.
import { Command, Option } from 'commander';
import type { GrantScope } from '../grants/index.js';
import { collect, collectGrantSecrets, parseDuration, parseInteger, parseSize } from './options.js';
import { action, CliError } from './server-call.js';

interface GrantCommandOptions {
  secret?: Array<{ kid: string; secret: string }>;
  identity: string;
  expires: number;
  upload?: number;
  maxFiles?: number;
  name?: string[];
  type?: string[];
  read?: string[];
  files?: 'read' | 'write';
  json: boolean;
}

export function registerGrant(program: Command): void {
  program
    .command('grant')
    .description('Sign a grant (for a page or a third party) with a secret the server knows; prints the token')
    .addOption(
      new Option('--secret <kid:secret>', "signing secret as key-id:secret, one of the server's --grant-secret values (from the environment: its first entry)")
        .env('FERRY_GRANT_SECRETS')
        .argParser(collectGrantSecrets),
    )
    .requiredOption('--identity <name>', 'who the holder acts as: what it uploads belongs to this identity')
    .addOption(new Option('--expires <duration>', 'lifetime, e.g. 15m, 2h, 7d').default(15 * 60, '15m').argParser(parseDuration))
    .addOption(new Option('--upload <size>', 'may create uploads of this many bytes in total, e.g. 1GiB').argParser(parseSize))
    .addOption(new Option('--max-files <n>', 'with --upload: at most this many uploads').argParser(parseInteger(1, Number.MAX_SAFE_INTEGER)))
    .addOption(new Option('--name <pattern>', 'with --upload: only file names matching this ("*.pdf"; repeatable)').argParser(collect))
    .addOption(new Option('--type <pattern>', 'with --upload: only media types matching this ("image/*"; repeatable)').argParser(collect))
    .addOption(new Option('--read <fileId>', 'may download this file (an id or a file URL; repeatable)').argParser(collect))
    .addOption(new Option('--files <access>', "the identity's own files: read lists and downloads them, write also deletes and shares").choices(['read', 'write']))
    .option('--json', 'print {token, identity, expiresAt, scope, kid} as JSON', false)
    .action(
      action('grant', async (o: GrantCommandOptions) => {
        const key = o.secret?.[0];
        if (!key) throw new CliError('no signing secret: pass --secret key-id:secret or set FERRY_GRANT_SECRETS (the server verifies with the same).', 2);
        const scope = scopeOf(o);
        const { issueGrant } = await import('../grants/index.js');
        const expiresIn = Math.max(1, Math.floor(o.expires));
        let token: string;
        try {
          token = await issueGrant({ ...key, identity: o.identity, expiresIn, scope });
        } catch (error) {
          throw new CliError((error as Error).message, 2);
        }
        const expiresAt = new Date(Date.now() + expiresIn * 1000).toISOString();
        if (o.json) {
          process.stdout.write(JSON.stringify({ token, identity: o.identity, expiresAt, scope, kid: key.kid }) + '\n');
          return;
        }
        process.stdout.write(`${token}\n`);
      }),
    );
}

/** The scope the options ask for; a grant that allows nothing is refused. */
function scopeOf(o: GrantCommandOptions): GrantScope {
  const scope: GrantScope = {};
  const narrowing = o.maxFiles !== undefined || o.name !== undefined || o.type !== undefined;
  if (o.upload !== undefined) {
    scope.upload = {
      maxBytes: o.upload,
      ...(o.maxFiles !== undefined && { maxFiles: o.maxFiles }),
      ...(o.name !== undefined && { names: o.name }),
      ...(o.type !== undefined && { types: o.type }),
    };
  } else if (narrowing) {
    throw new CliError('--max-files, --name and --type narrow an upload allowance: give --upload <size> too.', 2);
  }
  if (o.read !== undefined) scope.read = [...new Set(o.read.map(fileIdOf))];
  if (o.files !== undefined) scope.files = o.files;
  if (Object.keys(scope).length === 0) {
    throw new CliError('a grant needs a scope: --upload <size>, --read <fileId> or --files read|write.', 2);
  }
  return scope;
}

/** "http://host/files/<id>?grant=..." or "<id>" -> the file id. */
export function fileIdOf(text: string): string {
  if (!/^https?:\/\//i.test(text)) return text;
  const path = new URL(text).pathname;
  const m = /^\/files\/([^/]+)/.exec(path.slice(path.lastIndexOf('/files/')));
  if (!m) throw new CliError(`${text} is not a Ferry file URL (…/files/<id>).`, 2);
  return decodeURIComponent(m[1]!);
}
