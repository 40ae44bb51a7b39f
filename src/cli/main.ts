#!/usr/bin/env node
// The `ferry` command: one subcommand per module, wired here.
import { Command } from 'commander';
import { registerDownload } from './download.js';
import { registerGrant } from './grant.js';
import { registerKeys } from './keys.js';
import { registerMigrate } from './migrate.js';
import { registerServe } from './serve.js';
import { registerShare } from './share.js';
import { registerStatus } from './status.js';
import { registerUpload } from './upload.js';

const program = new Command('ferry')
  .description('Resumable, verified, parallel transfer of large files')
  .version('0.1.0')
  .showHelpAfterError();

registerServe(program);
registerUpload(program);
registerDownload(program);
registerStatus(program);
registerShare(program);
registerKeys(program);
registerGrant(program);
registerMigrate(program);

await program.parseAsync(process.argv);
