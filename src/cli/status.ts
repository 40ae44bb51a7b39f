// `ferry status [upload-id-or-url]`: what the server has of an upload; without one, this machine's
// unfinished uploads (see status-list.ts).
import { Command, Option } from 'commander';
import { networkError } from '../client/engine/network-failure.js';
import { FerryError, Paths, UploadStatus } from '../protocol/index.js';
import { authHeaders, describeAuthFailure, originOf, tokenOption } from './credentials.js';
import { formatBytes } from './format.js';
import { cliFetch } from './http.js';
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
    .action(async (target: string | undefined, o: StatusOptions) => {
      if (target === undefined) {
        process.exitCode = await listUnfinished(o);
        return;
      }
      process.exitCode = await showOne(target, o);
    });
}

async function showOne(target: string, o: StatusOptions): Promise<number> {
  let url: string;
  try {
    url = /^https?:\/\//.test(target) ? target : new URL(Paths.upload(target), o.server).href;
  } catch {
    process.stderr.write(`ferry: "${o.server}" is not a URL (example: http://localhost:8080).\n`);
    return 2;
  }
  let res: Response;
  try {
    res = await cliFetch(url, { headers: { accept: 'application/json', ...authHeaders(o.token) } });
  } catch (e) {
    process.stderr.write(`Cannot reach ${url}: ${networkError(`GET ${url}`, url, e).message}\n`);
    return 1;
  }
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const problem = FerryError.fromProblem(body ?? {}, res.status);
    const auth = describeAuthFailure(problem, url, Boolean(o.token));
    const line = auth ?? (res.status === 404 ? (url === target ? `no such upload at ${url}` : `no such upload ${target} on ${originOf(url)}`) : `${res.status}: ${problem.message}`);
    process.stderr.write(`ferry: ${line}\n`);
    return 1;
  }
  const parsed = UploadStatus.safeParse(body);
  if (!parsed.success) {
    process.stderr.write(`ferry: ${originOf(url)} did not answer with an upload status; is it a Ferry server?\n`);
    return 1;
  }
  const status = parsed.data;
  if (o.json) {
    process.stdout.write(JSON.stringify(status) + '\n');
    return 0;
  }
  const lines = [
    `upload   ${status.uploadId} (${status.name})`,
    `state    ${status.state}`,
    `received ${status.chunksReceived}/${status.totalChunks} chunks, ${formatBytes(status.bytesReceived)} of ${formatBytes(status.size)}`,
  ];
  if (status.state === 'uploading') lines.push(`missing  ${status.missing || 'none'}`, `expires  ${status.expiresAt}`);
  if (status.fileUrl) lines.push(`file     ${status.fileUrl}`);
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
