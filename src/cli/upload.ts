// `ferry upload <file...>`: resumable, verified upload of each file with a progress display.
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { isUploadError, upload, type UploadResult } from '../client/node/index.js';
import { authHeaders, describeAuthFailure, tokenOption } from './credentials.js';
import { formatBytes, formatDuration, formatRate } from './format.js';
import { parseSize } from './options.js';
import { chooseViewMode, createProgressView } from './progress-view.js';
import { concurrencyOption, serverOption, timeoutOption } from './server-option.js';

interface UploadCommandOptions {
  server: string;
  token?: string;
  chunkSize?: number;
  concurrency: 'auto' | number;
  checksum: 'sha-256';
  fileDigest: boolean;
  resume: boolean;
  json: boolean;
  timeout?: number;
  type?: string;
}

export function registerUpload(program: Command): void {
  program
    .command('upload')
    .description('Upload files; re-running the same command resumes an interrupted upload')
    .argument('<file...>', 'files to upload')
    .addOption(serverOption())
    .addOption(tokenOption())
    .addOption(new Option('--chunk-size <size>', 'requested chunk size, e.g. 8MiB (default: the server\'s)').argParser(parseSize))
    .addOption(concurrencyOption())
    .addOption(timeoutOption('seconds one chunk request may take before it is retried (default: 30 plus 1 per 64 KiB of chunk)'))
    .addOption(new Option('--checksum <alg>', 'chunk checksum algorithm').choices(['sha-256']).default('sha-256'))
    .addOption(new Option('--type <media-type>', 'the files\' media type, stored as metadata.type (what a grant limited to some types checks)'))
    .option('--file-digest', 'also have the server verify a whole-file SHA-256 (one extra read of the file)', false)
    .option('--no-resume', 'start a new upload even if an earlier one of this file is unfinished')
    .option('--json', 'machine-readable progress and results, one JSON object per line on stdout', false)
    .action(async (files: string[], o: UploadCommandOptions) => {
      process.exitCode = await uploadAll(files, o);
    });
}

async function uploadAll(files: string[], o: UploadCommandOptions): Promise<number> {
  const view = createProgressView(chooseViewMode(o.json));
  const aborter = new AbortController();
  let interrupted = false;
  const onSigint = () => {
    // Leave every unfinished upload on the server and in the resume store: the same command resumes it.
    interrupted = true;
    view.stop();
    process.stderr.write('\nStopped. Run the same command again to resume.\n');
    process.exit(130);
  };
  process.once('SIGINT', onSigint);
  let failures = 0;
  try {
    for (const file of files) {
      if (interrupted) break;
      const outcome = await uploadOne(resolve(file), file, o, view);
      if (outcome !== 'ok') failures++;
      // A missing or rejected credential fails every other file the same way: stop here.
      if (outcome === 'unauthenticated') break;
    }
  } finally {
    view.stop();
    process.removeListener('SIGINT', onSigint);
    aborter.abort();
  }
  return failures ? 1 : 0;
}

async function uploadOne(
  path: string,
  label: string,
  o: UploadCommandOptions,
  view: ReturnType<typeof createProgressView>,
): Promise<'ok' | 'failed' | 'unauthenticated'> {
  const bar = view.add(label, 'upload');
  const handle = upload(path, {
    server: o.server,
    chunkSize: o.chunkSize,
    concurrency: o.concurrency,
    checksum: o.checksum,
    resume: o.resume,
    headers: authHeaders(o.token),
    ...(o.timeout !== undefined && { requestTimeoutMs: o.timeout * 1000 }),
    ...(o.fileDigest && { fileDigest: 'compute' }),
    // What a grant limited to some media types checks (as the page sends the browser's type).
    ...(o.type !== undefined && { metadata: { type: o.type } }),
  });
  handle.on('progress', (p) => bar.update(p));
  handle.on('started', (s) => {
    if (s.resumed) bar.note(`resuming upload ${s.uploadId}`, { uploadId: s.uploadId, resumed: true });
    else bar.note(`upload ${s.uploadId} created (${s.totalChunks} chunks of ${formatBytes(s.chunkSize)})`, { uploadId: s.uploadId, resumed: false });
  });
  handle.on('retry', (r) => {
    const why = r.error instanceof Error ? r.error.message : String(r.error);
    bar.note(`${r.what} failed (${why}); retrying in ${(r.delayMs / 1000).toFixed(1)} s`, { what: r.what, index: r.index, delayMs: r.delayMs });
  });
  try {
    const result: UploadResult = await handle.result;
    bar.update(handle.progress());
    const rate = result.durationMs > 0 ? (result.bytesSent / result.durationMs) * 1000 : null;
    bar.finish(true, `done: ${formatBytes(result.size)} in ${formatDuration(result.durationMs / 1000)} (${formatRate(rate)})${result.resumed ? ', resumed' : ''}`, { ...result });
    if (!o.json) process.stdout.write(`${result.fileUrl}\n`);
    return 'ok';
  } catch (error) {
    const problem = isUploadError(error) ? error.problem : null;
    const auth = describeAuthFailure(problem, o.server, Boolean(o.token));
    const message = auth ?? (error instanceof Error ? error.message : String(error));
    const resumable = !(isUploadError(error) && ['fatal', 'invalid'].includes(error.reason));
    const hint = resumable ? ' Run the same command again to resume.' : '';
    bar.finish(false, `failed: ${message.replace(/\.?$/, '.')}${hint}`, {
      error: message,
      reason: isUploadError(error) ? error.reason : 'unknown',
      problem: isUploadError(error) && error.problem ? error.problem.toProblem() : null,
      resumable,
    });
    return problem?.status === 401 ? 'unauthenticated' : 'failed';
  }
}
