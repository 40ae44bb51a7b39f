// `ferry ls`: the files on the server that the credential may see (its own; an admin's: everyone's).
import { Command, Option } from 'commander';
import { FileInfo } from '../protocol/index.js';
import { tokenOption } from './credentials.js';
import { formatBytes } from './format.js';
import { action, callServer, CliError, serverBase } from './server-call.js';
import { serverOption } from './server-option.js';
import { formatTable, isoSeconds, printable } from './table.js';

interface LsOptions {
  server: string;
  token?: string;
  owner?: string;
  json: boolean;
}

/** The server's largest page (GET /files?limit=): fewest round trips. */
const pageSize = 1000;

export function registerLs(program: Command): void {
  program
    .command('ls')
    .description("List your files on the server, newest first: size, upload time, URL, name (an admin's key: everyone's)")
    .addOption(serverOption())
    .addOption(tokenOption())
    .addOption(new Option('--owner <identity>', "only this identity's files (another identity's: admins only)"))
    .option('--json', 'print {"files": [...]} (each as GET /files/{id}/manifest describes it, without chunks) as JSON', false)
    .action(
      action('ls', async (o: LsOptions) => {
        const base = serverBase(o.server);
        const files = await listAll(base, o);
        if (o.json) {
          process.stdout.write(JSON.stringify({ files }) + '\n');
          return;
        }
        if (files.length === 0) {
          process.stderr.write(`no files on ${base}\n`);
          return;
        }
        process.stdout.write(table(files) + '\n');
      }),
    );
}

/** Every page of GET /files. */
async function listAll(base: string, o: LsOptions): Promise<FileInfo[]> {
  const files: FileInfo[] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ limit: String(pageSize) });
    if (cursor) query.set('cursor', cursor);
    if (o.owner !== undefined) query.set('owner', o.owner);
    const page = (await callServer('GET', `${base}/files?${query}`, o.token)) as { files?: unknown; nextCursor?: unknown } | null;
    if (!Array.isArray(page?.files)) throw new CliError(`${base} did not answer with a file list; is it a Ferry server?`);
    for (const entry of page.files) {
      const parsed = FileInfo.safeParse(entry);
      if (parsed.success) files.push(parsed.data);
    }
    cursor = typeof page.nextCursor === 'string' ? page.nextCursor : null;
  } while (cursor);
  return files;
}

function table(files: FileInfo[]): string {
  // The owner column only says something when the list mixes identities (an admin's view).
  const owners = new Set(files.map((f) => f.owner ?? ''));
  const withOwner = owners.size > 1;
  const rows = [
    ['SIZE', 'UPLOADED', ...(withOwner ? ['OWNER'] : []), 'URL', 'NAME'],
    ...files.map((f) => [formatBytes(f.size), isoSeconds(f.createdAt), ...(withOwner ? [printable(f.owner ?? '-')] : []), f.fileUrl, printable(f.name)]),
  ];
  return formatTable(rows, new Set([0]));
}
