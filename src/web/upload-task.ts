// One file's upload: starts the engine, turns its events into what the view shows (progress, retries
// with a countdown, pause, results and failures) and tells the page when it starts and ends.
import type { Hasher, Progress, RetryEvent, UploadHandle, UploadResult } from '../client/index.js';
import { isUploadError } from '../client/index.js';
import { createSource, upload } from '../client/browser/index.js';
import { canRetry, describeFailure, describeRetry, needsSignIn } from './describe.js';
import { announce } from './dom.js';
import type { FileRef } from './file-actions.js';
import { describeTransfer, formatBytes } from './format.js';
import type { PageSettings } from './settings.js';
import { UploadView } from './upload-view.js';

export interface TaskHooks {
  /** The upload exists on the server (so a remembered unfinished one is being resumed). */
  started(task: UploadTask, uploadId: string): void;
  /** Progress or state changed (for the overall bar). */
  changed(task: UploadTask): void;
  finished(task: UploadTask, result: UploadResult): void;
  dismissed(task: UploadTask): void;
  /** The server answered again after being unreachable (e.g. it restarted). */
  reconnected?(task: UploadTask): void;
  /** The request headers that carry the page's credential now (read at each start, so "Try again" after signing in again uses the new one). */
  headers(): Record<string, string>;
  /** The finished file's links and buttons (FileActions). */
  links(file: FileRef): Node[];
  /** The server answered 401 to a request carrying `sent` (headers()' answer at start): the page asks for a credential again. */
  unauthorized(error: unknown, sent: Record<string, string>): void;
}

/** What the page's intake decided about a file (src/web/intake.ts): all optional, a plain pick needs none. */
export interface TaskIntake {
  /** The name to store it under when the file's own would be refused (a blank one). */
  name?: string;
  /** How the row and announcements name it (its folder path, a readable form of an odd name). */
  label?: string;
  /** Extra metadata (relativePath for a file from a folder). */
  metadata?: Record<string, string>;
  /** Its resume identity when the name alone is not (two folders holding a same-named file). */
  fingerprint?: readonly (string | number)[];
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
    private readonly intake: TaskIntake = {},
  ) {
    this.view = new UploadView(this.label, file.size, {
      pause: () => this.pause(),
      resume: () => this.resume(),
      cancel: () => void this.cancel(),
      retry: () => this.start(),
      dismiss: () => hooks.dismissed(this),
    });
  }

  /** How the page names this file to people. */
  get label(): string {
    return this.intake.label ?? this.file.name;
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
    const { name, metadata: extra, fingerprint } = this.intake;
    const source = fingerprint ? { ...createSource(this.file), fingerprint } : this.file;
    // The browser's media type: a grant may allow only some types ("image/*"), checked against this.
    const metadata = { ...(this.file.type ? { type: this.file.type } : {}), ...extra };
    const handle = upload(source, {
      server: this.settings.server,
      hasher: this.hasher,
      ...this.settings.options,
      headers: (this.sent = this.hooks.headers()),
      ...(name !== undefined && { name }),
      ...(Object.keys(metadata).length > 0 && { metadata }),
    });
    this.handle = handle;
    handle.on('started', (s) => {
      this.reconnected(); // the server answered: any retry before this (capabilities, status) is over
      if (s.resumed) {
        const have = handle.progress().bytesAcked;
        this.view.setMessage(`Resuming: ${formatBytes(have)} were already on the server; sending only the rest.`);
        announce(`Resuming ${this.label}`);
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
      const wasOffline = this.reconnected();
      this.view.setMessage(wasOffline ? 'Reconnected, continuing.' : 'Continuing.');
      if (wasOffline) announce(`${this.label}: reconnected`);
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
    if (first) announce(`${this.label}: ${describeRetry(event, event.delayMs)}`);
    this.ticker ??= setInterval(() => this.renderRetry(), countdownTickMs);
    this.view.setRetryNow(() => this.retryNow());
  }

  /** Cuts the wait short: whatever waits to be retried is sent now (the person knows the server is back). */
  retryNow(): void {
    if (!this.retrying || !this.handle) return;
    this.retrying.until = Date.now();
    this.renderRetry();
    this.handle.retryNow();
  }

  /** The retrying is over; true when it was for an unreachable server (the page is told, e.g. to reload its list). */
  private reconnected(): boolean {
    const wasOffline = this.retrying?.event.kind === 'unreachable';
    this.stopCountdown();
    if (wasOffline) this.hooks.reconnected?.(this);
    return wasOffline;
  }

  private renderRetry(): void {
    if (!this.retrying) return;
    this.view.setMessage(describeRetry(this.retrying.event, this.retrying.until - Date.now()), 'warning');
  }

  private stopCountdown(): void {
    if (this.ticker !== null) clearInterval(this.ticker);
    this.ticker = null;
    this.retrying = null;
    this.view.setRetryNow(null);
  }

  private onDone(handle: UploadHandle, result: UploadResult): void {
    if (handle !== this.handle) return;
    this.stopCountdown();
    this.view.setState('done');
    this.view.showProgress(handle.progress());
    this.view.showDone(this.hooks.links({ fileId: result.fileId, fileUrl: result.fileUrl, name: this.intake.name ?? this.file.name }));
    // An empty or instant file gets no speed: over a fraction of a second it only measures latency.
    const how = result.resumed ? `resumed, ${formatBytes(result.bytesSent)} sent this time` : describeTransfer(result.size, result.durationMs);
    this.view.setMessage(how ? `Uploaded (${how}).` : 'Uploaded.', 'success');
    announce(`${this.label} uploaded`);
    this.hooks.finished(this, result);
    this.hooks.changed(this);
  }

  private onFailed(handle: UploadHandle, error: unknown): void {
    if (handle !== this.handle) return;
    this.stopCountdown();
    if (isUploadError(error) && error.reason === 'aborted') {
      this.view.setState('cancelled');
      this.view.setMessage('Cancelled. The partial upload was removed from the server.');
      announce(`${this.label}: cancelled`);
    } else {
      this.view.setState('failed', canRetry(error));
      const text = describeFailure(error);
      this.view.setMessage(text, 'error');
      announce(`${this.label}: ${text}`);
      if (needsSignIn(error)) this.hooks.unauthorized(error, this.sent);
    }
    this.hooks.changed(this);
  }

  // The engine reports paused/transferring only once chunks are moving; before that (while it
  // connects and creates the upload) the button still has to answer at once.
  pause(): void {
    this.handle?.pause();
    this.view.setState('paused');
    if (this.latest?.phase !== 'paused') this.view.setMessage('Paused');
  }

  resume(): void {
    this.handle?.resume();
    this.view.setState('running');
    this.view.setMessage('Uploading…');
  }

  async cancel(): Promise<void> {
    this.view.setMessage('Cancelling…');
    await this.handle?.abort();
  }
}
