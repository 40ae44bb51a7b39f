// `ferry upload <file|dir...>`: resumable, verified upload of each file with a progress display on
// stderr and each file's URL on stdout (output-results.ts says in which form).
import { Command, Option } from 'commander';
import { isUploadError, upload, type UploadHandle, type UploadResult } from '../client/node/index.js';
import { authHeaders, describeAuthFailure, tokenOption } from './credentials.js';
import { formatBytes, formatDuration, formatRate, sentence } from './format.js';
import { parseChunkSize } from './options.js';
import { chooseResultForm, writeResult, type ResultForm } from './output-results.js';
import { connectingLine, retryFields, retryLine } from './progress-retry.js';
import { chooseViewMode, createProgressView, type ProgressView } from './progress-view.js';
import { concurrencyOption, serverOption, timeoutOption } from './server-option.js';
import { expandUploadArgs, type UploadItem } from './upload-files.js';
import { discardUpload, keepUpload, outcomeName, stoppedMessage, stoppedNow, type Stopped } from './upload-stop.js';
import { summaryLine, type RunTally } from './upload-summary.js';

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
    .description('Upload files, or every file under a directory; re-running the same command resumes an interrupted upload')
    .argument('<path...>', 'files, or directories to upload every file under (symbolic links inside are not followed)')
    .addOption(serverOption())
    .addOption(tokenOption())
    .addOption(new Option('--chunk-size <size>', 'requested chunk size, e.g. 8MiB (default: the server\'s)').argParser(parseChunkSize))
    .addOption(concurrencyOption())
    .addOption(timeoutOption('seconds one chunk request may take before it is retried (default: 30 plus 1 per 64 KiB of chunk)'))
    .addOption(new Option('--checksum <alg>', 'chunk checksum algorithm').choices(['sha-256']).default('sha-256'))
    .addOption(new Option('--type <media-type>', 'the files\' media type, stored as metadata.type (what a grant limited to some types checks)'))
    .option('--file-digest', 'also have the server verify a whole-file SHA-256 (one extra read of the file)', false)
    .option('--no-resume', 'start a new upload even if an earlier one of this file is unfinished; one stopped by Ctrl-C is deleted')
    .option('--json', 'machine-readable progress and results, one JSON object per line on stdout', false)
    .action(async (paths: string[], o: UploadCommandOptions) => {
      process.exitCode = await uploadAll(paths, o);
    });
}

/** The upload in progress, for a signal handler to stop. */
interface Current {
  handle: UploadHandle;
}

/** A stop under way: the signal, the upload it stops, and what that comes to. */
interface Stopping {
  signal: string;
  current: Current | null;
  outcome: Promise<Stopped>;
}

const signalExit: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

async function uploadAll(paths: string[], o: UploadCommandOptions): Promise<number> {
  const startedAt = Date.now();
  const view = createProgressView(chooseViewMode(o.json));
  const expanded = await expandUploadArgs(paths);
  const form = chooseResultForm(o.json, expanded.single);
  for (const n of expanded.notices) view.add(n.label, 'upload').note(n.message, { notice: true });
  for (const p of expanded.problems) view.add(p.label, 'upload').finish(false, p.message, { error: p.message, reason: 'invalid', resumable: false });

  const tally: RunTally = { total: expanded.items.length, uploaded: 0, failed: 0, bytes: 0, durationMs: 0 };
  let current: Current | null = null;
  let stopping: Stopping | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    view.stop();
    if (stopping) {
      // A second signal while the first one's stop is under way: go now, saying what is known.
      const now: Stopped = stopping.current ? stoppedNow(stopping.current.handle) : { kind: 'none' };
      const line = o.resume || now.kind !== 'resumable' ? stoppedMessage(now, tally.uploaded) : 'Stopped without removing the unfinished upload from the server.';
      process.stderr.write(`${line}\n`);
      process.exit(signalExit[signal] ?? 1);
    }
    // The engine lets a creation request in flight finish first, so the upload it made is known:
    // resumable, it stays (server and resume store) for the same command; --no-resume, it is deleted.
    const stop = current;
    // That wait can take seconds: say why nothing happens yet.
    if (stop?.handle.creationUnanswered) process.stderr.write("stopping: waiting for the server's answer to the upload's creation\n");
    const outcome: Promise<Stopped> =
      stop === null ? Promise.resolve({ kind: 'none' }) : o.resume ? keepUpload(stop.handle) : discardUpload(stop.handle, authHeaders(o.token));
    stopping = { signal, current: stop, outcome };
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    for (const item of expanded.items) {
      if (stopping) break;
      const outcome = await uploadOne(item, o, view, form, (c) => (current = c), () => stopping !== null);
      current = null;
      if (outcome === 'stopped') break;
      if (outcome === 'unauthenticated' || outcome === 'failed') tally.failed++;
      else {
        tally.uploaded++;
        tally.bytes += outcome.size;
      }
      // A missing or rejected credential fails every other file the same way: stop here.
      if (outcome === 'unauthenticated') break;
    }
    if (stopping) return await reportStop(stopping, view, tally.uploaded);
  } finally {
    view.stop();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  tally.durationMs = Date.now() - startedAt;
  // Several files: what the run came to. (Nothing uploaded: the failures have said why, each.)
  if (!expanded.single && tally.uploaded > 0) showSummary(tally, o.json);
  return tally.failed > 0 || expanded.problems.length > 0 || tally.uploaded < tally.total ? 1 : 0;
}

/** How a stopped run ends: the one true line about what the server kept, and 128 + signal. */
async function reportStop(stopping: Stopping, view: ProgressView, finishedBefore: number): Promise<number> {
  const outcome = await stopping.outcome;
  const message = stoppedMessage(outcome, finishedBefore);
  view.stop();
  const uploadId = 'uploadId' in outcome ? { uploadId: outcome.uploadId } : {};
  // The line goes to stderr in every mode (as it always did for a resumable stop); --json adds the event.
  if (view.mode === 'json') process.stdout.write(JSON.stringify({ event: 'stopped', kind: 'upload', message, outcome: outcomeName(outcome), ...uploadId }) + '\n');
  process.stderr.write(`${message}\n`);
  return signalExit[stopping.signal] ?? 1;
}

function showSummary(tally: RunTally, json: boolean): void {
  const line = summaryLine(tally);
  if (json) process.stdout.write(JSON.stringify({ event: 'summary', kind: 'upload', message: line, ...tally }) + '\n');
  else process.stderr.write(`${line}\n`);
}

async function uploadOne(
  item: UploadItem,
  o: UploadCommandOptions,
  view: ProgressView,
  form: ResultForm,
  track: (current: Current) => void,
  stopping: () => boolean,
): Promise<UploadResult | 'failed' | 'unauthenticated' | 'stopped'> {
  const bar = view.add(item.label, 'upload');
  const metadata = { ...(o.type !== undefined && { type: o.type }), ...(item.relativePath !== null && { relativePath: item.relativePath }) };
  const handle = upload(item.path, {
    server: o.server,
    chunkSize: o.chunkSize,
    concurrency: o.concurrency,
    checksum: o.checksum,
    resume: o.resume,
    headers: authHeaders(o.token),
    ...(o.timeout !== undefined && { requestTimeoutMs: o.timeout * 1000 }),
    ...(o.fileDigest && { fileDigest: 'compute' }),
    // metadata.type is what a grant limited to some media types checks (as the page sends the
    // browser's type); relativePath keeps a directory's structure (a file name cannot hold a "/").
    ...(Object.keys(metadata).length > 0 && { metadata }),
  });
  const current: Current = { handle };
  track(current);
  let began = false;
  // Once stopping, the bar stays away: the stop's message is the last line.
  handle.on('progress', (p) => !stopping() && bar.update(p));
  handle.on('started', (s) => {
    began = true;
    if (stopping()) return;
    if (s.resumed) bar.note(`resuming upload ${s.uploadId}`, { uploadId: s.uploadId, resumed: true });
    else bar.note(`upload ${s.uploadId} created (${s.totalChunks} chunk${s.totalChunks === 1 ? '' : 's'} of ${formatBytes(s.chunkSize)})`, { uploadId: s.uploadId, resumed: false });
  });
  // Before the server first answered, a retry is all there is to show: say that it is still trying.
  handle.on('retry', (r) => (began ? bar.note(retryLine(r), retryFields(r)) : bar.waiting(connectingLine(o.server, r), retryFields(r))));
  try {
    const result = await handle.result;
    bar.update(handle.progress());
    const rate = result.durationMs > 0 ? (result.bytesSent / result.durationMs) * 1000 : null;
    const extra = item.relativePath !== null ? { relativePath: item.relativePath } : {};
    bar.finish(true, `done: ${formatBytes(result.size)} in ${formatDuration(result.durationMs / 1000)} (${formatRate(rate)})${result.resumed ? ', resumed' : ''}`, { ...result, ...extra });
    writeResult(form, 'upload', item.label, result.fileUrl, result.fileUrl);
    return result;
  } catch (error) {
    if (stopping()) return 'stopped';
    const problem = isUploadError(error) ? error.problem : null;
    const auth = describeAuthFailure(problem, o.server, Boolean(o.token));
    const message = auth ?? (error instanceof Error ? error.message : String(error));
    // Nothing to resume: a refusal, a bad file, a server never reached, or an upload not recorded (--no-resume).
    const resumable = o.resume && !(isUploadError(error) && ['fatal', 'invalid', 'unreachable'].includes(error.reason));
    const hint = resumable ? ' Run the same command again to resume.' : '';
    bar.finish(false, `failed: ${sentence(message)}${hint}`, {
      error: message,
      reason: isUploadError(error) ? error.reason : 'unknown',
      problem: isUploadError(error) && error.problem ? error.problem.toProblem() : null,
      resumable,
    });
    return problem?.status === 401 ? 'unauthenticated' : 'failed';
  }
}
