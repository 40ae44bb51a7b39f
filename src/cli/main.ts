#!/usr/bin/env node
// The `ferry` command: one subcommand per module, wired here.
import { Command } from 'commander';
import { registerAbort } from './abort.js';
import { registerDownload } from './download.js';
import { registerGrant } from './grant.js';
import { registerKeys } from './keys.js';
import { registerLs } from './ls.js';
import { registerMigrate } from './migrate.js';
import { registerRm } from './rm.js';
import { registerServe } from './serve.js';
import { registerShare } from './share.js';
import { closeSharedDispatcher } from '../client/node/http-dispatcher.js';
import { registerStatus } from './status.js';
import { registerUpload } from './upload.js';
import { oneLineOptionErrors } from './usage-errors.js';

// stdout closed by its reader (`ferry upload a b | head -1`): stop quietly, as Unix tools do (status
// 141 = killed by SIGPIPE), instead of an unhandled 'error' event with a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(141);
});

const program = new Command('ferry')
  .description('Resumable, verified, parallel transfer of large files')
  .version('0.1.0');

registerServe(program);
registerUpload(program);
registerDownload(program);
registerStatus(program);
registerLs(program);
registerRm(program);
registerAbort(program);
registerShare(program);
registerKeys(program);
registerGrant(program);
registerMigrate(program);
// Last: it covers the options of every command registered above.
oneLineOptionErrors(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // A failure no command turned into a message of its own (a bug): its stack, not Node's default report,
  // which starts with the throwing line of the minified bundle (kilobytes of one line).
  process.stderr.write(`ferry: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
}
// A command that ended (done, failed or stopped by Ctrl-C) may leave a connection still being opened
// (a TLS handshake, a silent proxy's CONNECT): it must not hold the process until its timeout.
// `ferry serve` returns once listening and never made one.
await closeSharedDispatcher();
