// `ferry keys create|list|revoke`: API keys, in a data directory (default) or on a running server (--server, admin --token).
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Role } from '../stores/types.js';
import { tokenOption } from './credentials.js';
import type { KeyInfo, LocalKeys } from './keys-local.js';
import { action, callServer, CliError, serverBase } from './server-call.js';

interface TargetOptions {
  dataDir: string;
  server?: string;
  token?: string;
  json?: boolean;
}

/** Where the keys are: the data directory, or a server's /keys. */
interface KeyTarget {
  create(identity: string, role: Role, label: string): Promise<KeyInfo & { key: string }>;
  list(): Promise<KeyInfo[]>;
  revoke(id: string): Promise<void>;
  close(): Promise<void>;
}

export function registerKeys(program: Command): void {
  const keys = program
    .command('keys')
    .description('Manage API keys: in the data directory (works while the server runs), or on a running server with --server');

  withTarget(keys.command('create'))
    .description('Make an API key; prints the key (shown only this once) on stdout')
    .requiredOption('--identity <name>', 'who the key acts as: what it uploads belongs to this identity', parseIdentity)
    .addOption(new Option('--role <role>', 'admin: may see and manage everything, and manage keys').choices(['user', 'admin']).default('user'))
    .option('--label <text>', 'a note for the key list (e.g. "backup script on host-3")', '')
    .option('--json', 'print the key and its details as JSON', false)
    .action(
      action('keys create', async (o: TargetOptions & { identity: string; role: Role; label: string }) => {
        const made = await using(o, true, (t) => t.create(o.identity, o.role, o.label));
        if (o.json) {
          process.stdout.write(JSON.stringify(made) + '\n');
          return;
        }
        process.stdout.write(`${made.key}\n`);
        process.stderr.write(`API key ${made.id} for ${made.identity} (${made.role}) created. It is shown only this once: store it now.\n`);
      }),
    );

  withTarget(keys.command('list'))
    .description('List API keys (never their secrets)')
    .option('--json', 'print {"keys": [...]} as JSON', false)
    .action(
      action('keys list', async (o: TargetOptions) => {
        const list = await using(o, false, (t) => t.list());
        if (o.json) {
          process.stdout.write(JSON.stringify({ keys: list }) + '\n');
          return;
        }
        if (list.length === 0) {
          process.stderr.write('No API keys yet: ferry keys create --identity <name> --role admin\n');
          return;
        }
        process.stdout.write(table(list) + '\n');
      }),
    );

  withTarget(keys.command('revoke'))
    .description('Revoke an API key at once (requests with it are refused from then on)')
    .argument('<id>', 'the key id (from keys list), or the key itself')
    .action(
      action('keys revoke', async (idOrKey: string, o: TargetOptions) => {
        const id = keyIdOf(idOrKey);
        await using(o, false, (t) => t.revoke(id));
        process.stderr.write(`API key ${id} revoked.\n`);
      }),
    );
}

function withTarget(cmd: Command): Command {
  return cmd
    .addOption(new Option('-d, --data-dir <dir>', "the server's data directory").env('FERRY_DATA_DIR').default('./ferry-data'))
    .addOption(new Option('-s, --server <url>', 'manage the keys of this running server instead (needs an admin --token)'))
    .addOption(tokenOption());
}

async function using<T>(o: TargetOptions, create: boolean, run: (target: KeyTarget) => Promise<T>): Promise<T> {
  const target = o.server !== undefined ? remoteKeys(serverBase(o.server), o.token) : await localKeys(o.dataDir, create);
  try {
    return await run(target);
  } finally {
    await target.close();
  }
}

async function localKeys(dataDir: string, create: boolean): Promise<KeyTarget> {
  const { openLocalKeys } = await import('./keys-local.js');
  const store: LocalKeys = await openLocalKeys(dataDir, create);
  return {
    create: (identity, role, label) => store.create(identity, role, label),
    list: () => store.list(),
    revoke: async (id) => {
      if (!(await store.revoke(id))) throw new CliError(`no API key ${id} in ${dataDir}.`);
    },
    close: () => store.close(),
  };
}

function remoteKeys(base: string, token: string | undefined): KeyTarget {
  if (!token) throw new CliError(`managing the keys of ${base} needs an admin key: pass --token or set FERRY_TOKEN.`);
  return {
    create: async (identity, role, label) => (await callServer('POST', `${base}/keys`, token, { identity, role, label })) as KeyInfo & { key: string },
    list: async () => ((await callServer('GET', `${base}/keys`, token)) as { keys: KeyInfo[] }).keys,
    revoke: async (id) => {
      await callServer('DELETE', `${base}/keys/${encodeURIComponent(id)}`, token);
    },
    close: async () => {},
  };
}

function parseIdentity(text: string): string {
  // The server's rule (routes/keys.ts): 1 to 200 characters, no control characters.
  if (text.length < 1 || text.length > 200 || /[\u0000-\u001f\u007f]/.test(text)) {
    throw new InvalidArgumentError('an identity is 1 to 200 characters, without control characters.');
  }
  return text;
}

/** "fk_<id>_<secret>" -> id; an id stays as it is. */
function keyIdOf(text: string): string {
  const m = /^fk_([0-9a-f]{16})_/.exec(text.trim());
  return m ? m[1]! : text.trim();
}

function table(keys: KeyInfo[]): string {
  const rows = [
    ['ID', 'IDENTITY', 'ROLE', 'CREATED', 'REVOKED', 'LABEL'],
    ...keys.map((k) => [k.id, k.identity, k.role, k.createdAt.slice(0, 19) + 'Z', k.revokedAt ? k.revokedAt.slice(0, 19) + 'Z' : '-', k.label]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}
