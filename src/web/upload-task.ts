// One file's upload: starts the engine, turns its events into what the view shows (progress, retries
// with a countdown, pause, results and failures) and tells the page when it starts and ends.
import type { Hasher, Progress, RetryEvent, UploadHandle, UploadResult } from '../client/index.js';
import { isUploadError } from '../client/index.js';
import { upload } from '../client/browser/index.js';
import { canRetry, describeFailure, describeRetry, needsSignIn } from './describe.js';
import { announce } from './dom.js';
import type { FileRef } from './file-actions.js';
import { formatBytes, formatDuration, formatRate } from './format.js';
import type { PageSettings } from './settings.js';
import { UploadView } from './upload-view.js';

export interface TaskHooks {
  /** The upload exists on the server (so a remembered unfinished one is being resumed). */
  started(task: UploadTask, uploadId: string): void;
  /** Progress or state changed (for the overall bar). */
  changed(task: UploadTask): void;
  finished(task: UploadTask, result: UploadResult): void;
  dismissed(task: UploadTask): void;
  /** The request headers that carry the page's credential now (read at each start, so "Try again" after signing in again uses the new one). */
  headers(): Record<string, string>;
  /** The finished file's links and buttons (FileActions). */
  links(file: FileRef): Node[];
  /** The server answered 401 to a request carrying `sent` (headers()' answer at start): the page asks for a credential again. */
  unauthorized(error: unknown, sent: Record<string, string>): void;
}

/** How often the retry countdown ticks. */
const countdownTickMs = 250;

export class UploadTask {
  readonly view: UploadView;
  private handle: UploadHandle | null = null;
  private latest: Progress | null = null;
  private retrying: { event: RetryEvent; until: number; acked: number } | null = null;
  private ticker: ReturnType<typeof setInterval> | null = null;
  /** The headers the current attempt sends (its credential). */
  private sent: Record<string, string> = {};

  constructor(
    readonly file: File,
    private readonly settings: PageSettings,
    private readonly hasher: Hasher,
    private readonly hooks: TaskHooks,
  ) {
    this.view = new UploadView(file.name, file.size, {
      pause: () => this.pause(),
      resume: () => this.resume(),
      cancel: () => void this.cancel(),
      retry: () => this.start(),
      dismiss: () => hooks.dismissed(this),
    });
  }

  get active(): boolean {
    const s = this.view.state;
    return s === 'starting' || s === 'running' || s === 'paused';
  }

  /** Bytes acknowledged, total and current rate (for the overall bar). */
  progress(): { acked: number; total: number; rate: number } {
    const p = this.latest;
    const done = this.view.state === 'done';
    return { acked: done ? this.file.size : (p?.bytesAcked ?? 0), total: this.file.size, rate: p?.phase === 'transferring' ? (p.rate ?? 0) : 0 };
  }

  start(): void {
    this.latest = null;
    this.stopCountdown();
    this.view.setState('starting');
    this.view.setMessage('Connecting to the server…');
    const handle = upload(this.file, {
      server: this.settings.server,
      hasher: this.hasher,
      ...this.settings.options,
      headers: (this.sent = this.hooks.headers()),
      // The browser's media type: a grant may allow only some types ("image/*"), checked against this.
      ...(this.file.type ? { metadata: { type: this.file.type } } : {}),
    });
    this.handle = handle;
    handle.on('started', (s) => {
      this.stopCountdown(); // the server answered: any retry before this (capabilities, status) is over
      if (s.resumed) {
        const have = handle.progress().bytesAcked;
        this.view.setMessage(`Resuming: ${formatBytes(have)} were already on the server; sending only the rest.`);
        announce(`Resuming ${this.file.name}`);
      } else if (!handle.paused) {
        this.view.setMessage('Uploading…');
      }
      if (this.view.state === 'starting') this.view.setState(handle.paused ? 'paused' : 'running');
      this.hooks.started(this, s.uploadId);
    });
    handle.on('progress', (p) => this.onProgress(handle, p));
    handle.on('retry', (e) => this.onRetry(e));
    handle.result.then(
      (result) => this.onDone(handle, result),
      (error: unknown) => this.onFailed(handle, error),
    );
  }

  private onProgress(handle: UploadHandle, p: Progress): void {
    if (handle !== this.handle) return;
    this.latest = p;
    if (this.retrying && p.bytesAcked > this.retrying.acked) {
      const wasOffline = this.retrying.event.kind === 'unreachable';
      this.stopCountdown();
      this.view.setMessage(wasOffline ? 'Reconnected, continuing.' : 'Continuing.');
      if (wasOffline) announce(`${this.file.name}: reconnected`);
    }
    this.view.showProgress(p, this.retrying !== null);
    if (p.phase === 'paused') {
      this.view.setState('paused');
      // pause() lets the chunks already on the wire finish, so say what is still moving.
      this.view.setMessage(p.inFlight > 0 ? `Pausing: finishing ${p.inFlight} ${p.inFlight === 1 ? 'chunk' : 'chunks'} in flight…` : 'Paused');
    } else if (p.phase === 'transferring' && this.view.state === 'paused') {
      this.view.setState('running');
      this.view.setMessage('Uploading…');
    } else if (p.phase === 'completing' && !this.retrying) {
      this.view.setMessage('Finishing…');
    }
    this.hooks.changed(this);
  }

  private onRetry(event: RetryEvent): void {
    const acked = this.latest?.bytesAcked ?? 0;
    const first = this.retrying === null;
    this.retrying = { event, until: Date.now() + event.delayMs, acked };
    if (this.latest) this.view.showProgress(this.latest, true);
    this.renderRetry();
    if (first) announce(`${this.file.name}: ${describeRetry(event, event.delayMs)}`);
    this.ticker ??= setInterval(() => this.renderRetry(), countdownTickMs);
  }

  private renderRetry(): void {
    if (!this.retrying) return;
    this.view.setMessage(describeRetry(this.retrying.event, this.retrying.until - Date.now()), 'warning');
  }

  private stopCountdown(): void {
    if (this.ticker !== null) clearInterval(this.ticker);
    this.ticker = null;
    this.retrying = null;
  }

  private onDone(handle: UploadHandle, result: UploadResult): void {
    if (handle !== this.handle) return;
    this.stopCountdown();
    this.view.setState('done');
    this.view.showProgress(handle.progress());
    this.view.showDone(this.hooks.links({ fileId: result.fileId, fileUrl: result.fileUrl, name: this.file.name }));
    const seconds = result.durationMs / 1000;
    const how = result.resumed
      ? `resumed, ${formatBytes(result.bytesSent)} sent this time`
      : `${formatDuration(seconds)}, ${formatRate(seconds > 0 ? result.size / seconds : null)}`;
    this.view.setMessage(`Uploaded (${how}).`, 'success');
    announce(`${this.file.name} uploaded`);
    this.hooks.finished(this, result);
    this.hooks.changed(this);
  }

  private onFailed(handle: UploadHandle, error: unknown): void {
    if (handle !== this.handle) return;
    this.stopCountdown();
    if (isUploadError(error) && error.reason === 'aborted') {
      this.view.setState('cancelled');
      this.view.setMessage('Cancelled. The partial upload was removed from the server.');
      announce(`${this.file.name}: cancelled`);
    } else {
      this.view.setState('failed', canRetry(error));
      const text = describeFailure(error);
      this.view.setMessage(text, 'error');
      announce(`${this.file.name}: ${text}`);
      if (needsSignIn(error)) this.hooks.unauthorized(error, this.sent);
    }
    this.hooks.changed(this);
  }

  // The engine reports paused/transferring only once chunks are moving; before that (while it
  // connects and creates the upload) the button still has to answer at once.
  private pause(): void {
    this.handle?.pause();
    this.view.setState('paused');
    if (this.latest?.phase !== 'paused') this.view.setMessage('Paused');
  }

  private resume(): void {
    this.handle?.resume();
    this.view.setState('running');
    this.view.setMessage('Uploading…');
  }

  private async cancel(): Promise<void> {
    this.view.setMessage('Cancelling…');
    await this.handle?.abort();
  }
}
