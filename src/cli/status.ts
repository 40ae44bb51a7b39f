// `ferry status <upload-id-or-url>`: what the server has of an upload.
import { Command, Option } from 'commander';
import { FerryError, Paths, UploadStatus } from '../protocol/index.js';
import { authHeaders, describeAuthFailure, tokenOption } from './credentials.js';
import { formatBytes } from './format.js';
import { serverOption } from './server-option.js';

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('Show the state of an upload: chunks received, missing chunks, expiry')
    .argument('<upload>', 'upload id or upload URL')
    .addOption(serverOption())
    .addOption(tokenOption())
    .addOption(new Option('--json', 'print the status JSON'))
    .action(async (target: string, o: { server: string; token?: string; json?: boolean }) => {
      const url = /^https?:\/\//.test(target) ? target : new URL(Paths.upload(target), o.server).href;
      let res: Response;
      try {
        res = await fetch(url, { headers: { accept: 'application/json', ...authHeaders(o.token) } });
      } catch (e) {
        process.stderr.write(`Cannot reach ${url}: ${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      const body = await res.json().catch(() => null);
      if (!res.ok) {
        const problem = FerryError.fromProblem(body ?? {}, res.status);
        const auth = describeAuthFailure(problem, url, Boolean(o.token));
        process.stderr.write(auth ? `ferry: ${auth}\n` : `${res.status}: ${problem.message}\n`);
        process.exitCode = 1;
        return;
      }
      const status = UploadStatus.parse(body);
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
    });
}
