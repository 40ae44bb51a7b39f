// `ferry share <file>`: asks the server for a signed, expiring download link to one file; prints it.
import { Command, Option } from 'commander';
import { tokenOption } from './credentials.js';
import { fileIdOf } from './grant.js';
import { parseDuration } from './options.js';
import { action, callServer, CliError, serverBase } from './server-call.js';
import { serverOption } from './server-option.js';

interface ShareCommandOptions {
  server: string;
  token?: string;
  expires?: number;
  json: boolean;
}

interface ShareLink {
  fileId: string;
  url: string;
  expiresAt: string;
}

export function registerShare(program: Command): void {
  program
    .command('share')
    .description('Make a link anyone can download the file with, without an account, until it expires')
    .argument('<file>', 'file id, or the file URL (its server is then the one asked)')
    .addOption(serverOption())
    .addOption(tokenOption())
    .addOption(new Option('--expires <duration>', "the link's lifetime, e.g. 1h, 7d (default: the server's, 7d)").argParser(parseDuration))
    .option('--json', 'print {fileId, url, expiresAt} as JSON', false)
    .action(
      action('share', async (file: string, o: ShareCommandOptions) => {
        const { base, fileId } = target(file, o.server);
        const body = o.expires === undefined ? undefined : { expiresInSeconds: Math.max(1, Math.floor(o.expires)) };
        const link = (await callServer('POST', `${base}/files/${encodeURIComponent(fileId)}/share`, o.token, body)) as ShareLink;
        if (typeof link?.url !== 'string') throw new CliError(`${base} did not answer with a link; is it a Ferry server?`);
        if (o.json) {
          process.stdout.write(JSON.stringify(link) + '\n');
          return;
        }
        process.stdout.write(`${link.url}\n`);
        process.stderr.write(`Anyone with this link can download ${fileId} until ${link.expiresAt}.\n`);
      }),
    );
}

/** The server and file id: from a file URL (everything before /files/ is the server), else --server. */
function target(file: string, server: string): { base: string; fileId: string } {
  if (!/^https?:\/\//i.test(file)) return { base: serverBase(server), fileId: fileIdOf(file) };
  const url = new URL(file);
  const at = url.pathname.lastIndexOf('/files/');
  if (at < 0) throw new CliError(`${file} is not a Ferry file URL (…/files/<id>).`, 2);
  return { base: url.origin + url.pathname.slice(0, at), fileId: fileIdOf(file) };
}
