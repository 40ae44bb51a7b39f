// `ferry download <url>`: a resumable, verified download with the shared progress display. Re-running
// the same command continues from `<file>.part` + `<file>.part.ferry`; Ctrl-C leaves them up to date.
import { lstat, stat } from 'node:fs/promises';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import { Command, Option } from 'commander';
import type { RetryEvent } from '../client/index.js';
import { download, isDownloadError, probe, suggestFileName, type DownloadOptions, type DownloadResult, type ProbeOptions } from '../client/node/download.js';
import { authHeaders, describeAuthFailure, hasLinkGrant, problemOf, tokenOption } from './credentials.js';
import { formatBytes, formatDuration, formatRate, sentence } from './format.js';
import { parseChunkSize } from './options.js';
import { chooseResultForm, writeResult } from './output-results.js';
import { connectingLine, retryFields, retryLine } from './progress-retry.js';
import { chooseViewMode, createProgressView, type ProgressView, type TransferView } from './progress-view.js';
import { concurrencyOption, timeoutOption } from './server-option.js';

interface DownloadCommandOptions {
  output?: string;
  token?: string;
  concurrency: 'auto' | number;
  chunkSize?: number;
  timeout?: number;
  resume: boolean;
  json: boolean;
  force: boolean;
}

export function registerDownload(program: Command): void {
  program
    .command('download')
    .description('Download a file (verified chunk by chunk from a Ferry server); re-running the same command resumes')
    .argument('<url>', 'the file URL: a Ferry /files/{id} URL or any HTTP(S) URL')
    .option('-o, --output <path>', "file to write, or a directory to write into (default: the server's file name, else the URL's last segment)")
    .addOption(tokenOption())
    .addOption(concurrencyOption())
    .addOption(timeoutOption('seconds without a byte arriving before a range is fetched again (default 30)'))
    .addOption(new Option('--chunk-size <size>', 'range size for plain HTTP servers, e.g. 8MiB (a Ferry server sets its own)').argParser(parseChunkSize))
    .option('--no-resume', 'start over even if an interrupted download of this file exists')
    .option('--json', 'machine-readable progress and results, one JSON object per line on stdout', false)
    .option('-f, --force', 'overwrite the output file if it already exists (it is refused otherwise)', false)
    .action(async (url: string, o: DownloadCommandOptions) => {
      // A share link (?grant=) is its own credential: a token (say, FERRY_TOKEN of another identity) would override it.
      if (hasLinkGrant(url)) delete o.token;
      process.exitCode = await downloadCommand(url, o);
    });
}

async function downloadCommand(url: string, o: DownloadCommandOptions): Promise<number> {
  const view = createProgressView(chooseViewMode(o.json));
  const aborter = new AbortController();
  let interrupted = false;
  const onSigint = () => {
    // The first Ctrl-C stops cleanly (the sidecar records every finished chunk); a second one does
    // not wait: the sidecar on disk is then older, but always consistent.
    if (interrupted) process.exit(130);
    interrupted = true;
    aborter.abort();
  };
  process.on('SIGINT', onSigint);
  let bar: TransferView | null = null;
  // Until the destination is known, retries of the first request are shown under the URL's name.
  let early: TransferView | null = null;
  const onEarlyRetry = (r: RetryEvent) => (early ??= view.add(provisionalName(url), 'download')).waiting(connectingLine(url, r), retryFields(r));
  try {
    const dest = await destination(url, o, aborter.signal, onEarlyRetry);
    view.stop();
    const clash = o.force ? null : await existing(dest);
    if (clash !== null) return refuse(dest, clash, o.json ? view : null);
    bar = view.add(basename(dest), 'download');
    return await run(url, dest, o, view, bar, aborter.signal, () => interrupted);
  } catch (error) {
    // Before the transfer began: the URL could not be probed, or the destination is unusable.
    if (interrupted) return stopped(bar ?? view.add(url, 'download'));
    const message = describeAuthFailure(problemOf(error), url, Boolean(o.token)) ?? (error instanceof Error ? error.message : String(error));
    (bar ?? view.add(url, 'download')).finish(false, `failed: ${message}`, { error: message, reason: reasonOf(error), problem: problemJson(error) });
    return 1;
  } finally {
    view.stop();
    process.removeListener('SIGINT', onSigint);
  }
}

/** -o as a file; else the server's name (sanitized) in -o's directory or the current one. */
async function destination(url: string, o: DownloadCommandOptions, signal: AbortSignal, onRetry: (r: RetryEvent) => void): Promise<string> {
  let dir = process.cwd();
  if (o.output !== undefined) {
    const isDir = o.output.endsWith('/') || (await stat(o.output).then((s) => s.isDirectory(), () => false));
    if (!isDir) return resolve(o.output);
    dir = resolve(o.output);
  }
  const options: ProbeOptions = {
    signal,
    headers: authHeaders(o.token),
    onRetry,
    ...(o.timeout !== undefined && { idleTimeoutMs: o.timeout * 1000 }),
  };
  const remote = await probe(url, options);
  return join(dir, suggestFileName(remote.fileName, url));
}

/** The URL's last segment, to label "connecting…" before the server named the file. */
function provisionalName(url: string): string {
  try {
    return suggestFileName(null, url);
  } catch {
    return 'download';
  }
}

/**
 * What already sits at `dest` ("a file", "a directory", ...), or null if nothing does. The resume
 * files (`<dest>.part`, `<dest>.part.ferry`) are not the destination: an interrupted download resumes.
 */
async function existing(dest: string): Promise<string | null> {
  try {
    const s = await lstat(dest);
    if (s.isFile()) return 'a file';
    if (s.isDirectory()) return 'a directory';
    if (s.isSymbolicLink()) return 'a symbolic link';
    return 'something (not a regular file)';
  } catch (e) {
    if ((e as NodeJS.ErrnoException)?.code === 'ENOENT') return null;
    throw e;
  }
}

/** Refuses to replace what is at `dest`: one line on stderr (and an error event with --json), exit 1. */
function refuse(dest: string, what: string, jsonView: ReturnType<typeof createProgressView> | null): number {
  const message = `${dest} already exists${what === 'a file' ? '' : ` (${what})`}; not overwriting it. Use --force to replace it, or -o to choose another name.`;
  process.stderr.write(`ferry download: ${message}\n`);
  jsonView?.add(basename(dest), 'download').finish(false, message, { error: message, reason: 'exists', path: dest, resumable: false });
  return 1;
}

async function run(
  url: string,
  dest: string,
  o: DownloadCommandOptions,
  view: ProgressView,
  bar: TransferView,
  signal: AbortSignal,
  interrupted: () => boolean,
): Promise<number> {
  const handle = download(url, dest, {
    concurrency: o.concurrency,
    chunkSize: o.chunkSize,
    resume: o.resume,
    headers: authHeaders(o.token),
    signal,
    ...(o.timeout !== undefined && { idleTimeoutMs: o.timeout * 1000 }),
  });
  // Progress from the start of the transfer: a download refused at the probe shows its reason alone.
  let started = false;
  handle.on('progress', (p) => started && bar.update(p));
  handle.on('started', (s) => {
    started = true;
    const fields = { path: s.path, mode: s.mode, size: s.size, etag: s.etag, resumed: s.resumed, chunksDone: s.chunksDone, totalChunks: s.totalChunks };
    const size = s.size === null ? 'unknown size' : formatBytes(s.size);
    if (s.resumed) bar.note(`resuming ${s.path}: ${s.chunksDone}/${s.totalChunks} chunks already here`, fields);
    else bar.note(`downloading ${size} to ${s.path} (${describeMode(s.mode)})`, fields);
  });
  handle.on('restart', (r) => bar.note(r.message, { restart: r.reason }));
  handle.on('warning', (w) => bar.note(w.message, { warning: true }));
  // Before the server first answered, a retry is all there is to show: say that it is still trying.
  handle.on('retry', (r) => (started ? bar.note(retryLine(r), retryFields(r)) : bar.waiting(connectingLine(url, r), retryFields(r))));
  try {
    const result: DownloadResult = await handle.result;
    bar.update(handle.progress());
    bar.finish(true, summary(result), { ...result });
    view.stop();
    writeResult(chooseResultForm(o.json, true), 'download', shownPath(result.path), url, result.path);
    return 0;
  } catch (error) {
    if (interrupted()) return stopped(bar);
    const auth = describeAuthFailure(problemOf(error), url, Boolean(o.token));
    const message = auth ?? (error instanceof Error ? error.message : String(error));
    const reason = reasonOf(error);
    const resumable = !['verification', 'invalid', 'fatal', 'unreachable'].includes(reason);
    const hint = resumable && auth === null ? ' Run the same command again to resume.' : '';
    bar.finish(false, `failed: ${sentence(message)}${hint}`, {
      error: message,
      reason,
      problem: problemJson(error),
      resumable,
    });
    return 1;
  }
}

/** The saved file as the user would type it: relative to the current directory when it is under it. */
function shownPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

function stopped(bar: TransferView): number {
  bar.finish(false, 'stopped; run the same command again to resume', { reason: 'aborted', resumable: true });
  return 130;
}

function summary(r: DownloadResult): string {
  const checked = r.verified === 'chunks' ? 'every chunk verified' : r.verified === 'repr-digest' ? 'verified against Repr-Digest' : 'not verified end-to-end';
  const extra = [r.resumed ? 'resumed' : '', r.restarts > 0 ? `restarted ${r.restarts}×` : ''].filter(Boolean).join(', ');
  return `done: ${formatBytes(r.size)} in ${formatDuration(r.durationMs / 1000)} (${formatRate(r.rate)}), ${checked}${extra ? `, ${extra}` : ''}`;
}

function describeMode(mode: string): string {
  if (mode === 'manifest') return 'Ferry server, chunks verified';
  return mode === 'ranges' ? 'plain HTTP, parallel ranges' : 'plain HTTP, one stream: no resume';
}

function problemJson(error: unknown) {
  return problemOf(error)?.toProblem() ?? null;
}

function reasonOf(error: unknown): string {
  return isDownloadError(error) ? error.reason : 'unknown';
}
