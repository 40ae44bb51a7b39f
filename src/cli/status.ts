// `ferry status [upload-id-or-url]`: what the server has of an upload; without one, this machine's
// unfinished uploads (see status-list.ts).
import { Command, Option } from 'commander';
import { UploadStatus } from '../protocol/index.js';
import { tokenOption } from './credentials.js';
import { formatBytes } from './format.js';
import { locateUpload, resourceUrl } from './resource-target.js';
import { action, callServer, CliError } from './server-call.js';
import { serverOption } from './server-option.js';
import { listUnfinished } from './status-list.js';

interface StatusOptions {
  server: string;
  token?: string;
  json?: boolean;
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description("Show an upload's state on the server (chunks received, missing chunks, expiry); without an upload, this machine's unfinished uploads")
    .argument('[upload]', 'upload id or upload URL (none: list the uploads `ferry upload` can resume from here)')
    .addOption(serverOption())
    .addOption(tokenOption())
    .addOption(new Option('--json', 'print the status JSON ({"uploads": [...]} without an upload)'))
    .action(
      action('status', async (target: string | undefined, o: StatusOptions) => {
        if (target === undefined) process.exitCode = await listUnfinished(o);
        else await showOne(target, o);
      }),
    );
}

async function showOne(upload: string, o: StatusOptions): Promise<void> {
  // As `ferry abort`: an id this machine knows is asked of its own server.
  const { target, token } = await locateUpload(upload, o.server, o.token);
  let body: unknown;
  try {
    body = await callServer('GET', resourceUrl(target, 'uploads'), token);
  } catch (error) {
    if (error instanceof CliError && error.problem?.status === 404) throw new CliError(`no such upload ${target.id} on ${target.base}`);
    throw error;
  }
  const parsed = UploadStatus.safeParse(body);
  if (!parsed.success) throw new CliError(`${target.base} did not answer with an upload status; is it a Ferry server?`);
  const status = parsed.data;
  if (o.json) {
    process.stdout.write(JSON.stringify(status) + '\n');
    return;
  }
  const lines = [
    `upload   ${status.uploadId} (${status.name})`,
    `state    ${status.state}`,
    `received ${status.chunksReceived}/${status.totalChunks} chunks, ${formatBytes(status.bytesReceived)} of ${formatBytes(status.size)}`,
  ];
  if (status.state === 'uploading') lines.push(`missing  ${status.missing || 'none'}`, `expires  ${status.expiresAt}`);
  if (status.fileUrl) lines.push(`file     ${status.fileUrl}`);
  process.stdout.write(lines.join('\n') + '\n');
}
