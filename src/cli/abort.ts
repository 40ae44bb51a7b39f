// `ferry abort <upload>`: gives up an upload in progress: the server frees what it received
// (DELETE /uploads/{id}) and this machine forgets it (`ferry upload` of the file then starts afresh).
import { Command } from 'commander';
import type { FerryError } from '../protocol/index.js';
import { tokenOption } from './credentials.js';
import { forgetUpload } from './resume-entries.js';
import { action, callServer, CliError } from './server-call.js';
import { locateUpload, resourceUrl, type ResourceTarget } from './resource-target.js';
import { serverOption } from './server-option.js';

interface AbortOptions {
  server: string;
  token?: string;
}

/** Answers after which the upload is over on the server, so this machine's entry is of no more use. */
const overCodes = new Set(['upload-not-found', 'upload-completed', 'upload-aborted', 'upload-expired', 'upload-failed']);

export function registerAbort(program: Command): void {
  program
    .command('abort')
    .description('Abort an upload in progress: the server frees its chunks and this machine forgets it (see ferry status)')
    .argument('<upload>', 'upload id (from ferry status) or upload URL; an id this machine knows is sent to its own server')
    .addOption(serverOption())
    .addOption(tokenOption())
    .action(
      action('abort', async (upload: string, o: AbortOptions) => {
        const { target, token } = await locateUpload(upload, o.server, o.token);
        let refusal: CliError | null = null;
        try {
          await callServer('DELETE', resourceUrl(target, 'uploads'), token);
        } catch (error) {
          const problem = error instanceof CliError ? error.problem : undefined;
          if (!problem || !(problem.status === 404 || overCodes.has(problem.code))) throw error;
          refusal = new CliError(refusalText(problem, target));
        }
        const forgotten = await forgetUpload(target.id);
        const here = forgotten ? "; removed from this machine's unfinished uploads" : '';
        if (refusal) throw new CliError(`${refusal.message}${here}`);
        process.stderr.write(`aborted upload ${target.id} on ${target.base}${here}\n`);
      }),
    );
}

function refusalText(problem: FerryError, target: ResourceTarget): string {
  if (problem.status === 404) return `no such upload ${target.id} on ${target.base}`;
  const said = problem.message.replace(/\.$/, '');
  return problem.code === 'upload-completed' ? `${said}: its file stays on the server (ferry rm deletes it)` : said;
}
