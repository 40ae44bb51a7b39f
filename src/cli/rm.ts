// `ferry rm <file>...`: deletes files from the server (DELETE /files/{id}): their download links stop working.
import { Command } from 'commander';
import { tokenOption } from './credentials.js';
import { callServer, CliError, serverBase } from './server-call.js';
import { resourceTarget, resourceUrl } from './resource-target.js';
import { serverOption } from './server-option.js';

interface RmOptions {
  server: string;
  token?: string;
}

export function registerRm(program: Command): void {
  program
    .command('rm')
    .description('Delete files from the server, for good (their URLs and share links then answer 404)')
    .argument('<file...>', 'file ids (see ferry ls) or file URLs (the server in the URL is the one asked)')
    .addOption(serverOption())
    .addOption(tokenOption())
    .action(async (files: string[], o: RmOptions) => {
      let exitCode = 0;
      // A bad --server fails every id the same way: say it once.
      if (files.some((f) => !/^https?:\/\//i.test(f))) {
        try {
          serverBase(o.server);
        } catch (error) {
          process.stderr.write(`ferry rm: ${(error as Error).message}\n`);
          process.exitCode = error instanceof CliError ? error.exitCode : 1;
          return;
        }
      }
      for (const file of files) {
        const outcome = await removeOne(file, o);
        exitCode = Math.max(exitCode, outcome.exitCode);
        // A missing or rejected credential fails every other file the same way.
        if (outcome.unauthenticated) break;
      }
      process.exitCode = exitCode;
    });
}

async function removeOne(file: string, o: RmOptions): Promise<{ exitCode: number; unauthenticated?: boolean }> {
  try {
    const target = resourceTarget(file, o.server, 'files');
    try {
      await callServer('DELETE', resourceUrl(target, 'files'), o.token);
    } catch (error) {
      if (error instanceof CliError && error.problem?.status === 404) throw new CliError(`no such file ${target.id} on ${target.base}`);
      throw error;
    }
    process.stderr.write(`deleted ${target.id}\n`);
    return { exitCode: 0 };
  } catch (error) {
    process.stderr.write(`ferry rm: ${error instanceof Error ? error.message : String(error)}\n`);
    if (!(error instanceof CliError)) return { exitCode: 1 };
    return { exitCode: error.exitCode, unauthenticated: error.problem?.status === 401 };
  }
}
