// upload(): the handle (events, pause/resume/abort, result) around one run of session + send.
import { ConcurrencyController } from '../engine/concurrency.js';
import { ProgressTracker } from '../engine/progress.js';
import { Transfer, emitProgress, type TransferHandle } from '../engine/transfer.js';
import { FerryApi } from './api.js';
import type { ServerUpload, UploadContext, UploadEvents, UploadResult } from './context.js';
import { UploadError } from './errors.js';
import type { ByteSource, EngineIo } from './io.js';
import { resolveOptions, resumeKey, type ResolvedOptions, type UploadOptions } from './options.js';
import { sendMissing } from './send.js';
import { openUpload } from './session.js';

export interface UploadHandle extends TransferHandle<UploadEvents, UploadResult> {
  /** Resolves with the stored file; rejects with an UploadError. */
  readonly result: Promise<UploadResult>;
  /** Starts no new chunks; those in flight finish. */
  pause(): void;
  /**
   * Cancels requests, deletes the upload on the server, forgets the resume entry; resolves when done.
   * A creation request in flight is let finish (up to 5 s) so that the upload it makes is deleted too.
   */
  abort(): Promise<void>;
  /**
   * Stops like abort() but keeps the upload on the server and its resume entry, so that uploading the
   * same source again continues it. Waits for a creation request in flight the same way.
   */
  suspend(): Promise<void>;
  /** The upload's id once it exists on the server. */
  readonly uploadId: string | null;
  readonly uploadUrl: string | null;
  /**
   * True when a creation request went out and its answer was never read (e.g. stopped before it
   * came): the server may hold an upload that this handle cannot name, until it expires.
   */
  readonly creationUnanswered: boolean;
}

/** Problems after which the upload cannot be resumed: forget its resume entry. */
const unresumable = new Set(['upload-not-found', 'upload-expired', 'upload-aborted', 'upload-failed', 'chunk-conflict', 'file-digest-mismatch']);

/**
 * The platform-neutral engine. `platform` supplies defaults the entries wire (hasher, resume store);
 * options override them. Node: `ferry/client/node` upload(path); browser: upload(blob).
 */
export function startUpload(
  source: ByteSource | Promise<ByteSource>,
  options: UploadOptions,
  platform: Partial<EngineIo> = {},
): UploadHandle {
  return new Upload(source, options, platform);
}

class Upload extends Transfer<UploadEvents, UploadResult> implements UploadHandle {
  readonly result: Promise<UploadResult>;
  private readonly progressTracker = new ProgressTracker();
  private readonly server: ServerUpload = { unanswered: false, upload: null };
  /** suspend(), not abort(): leave the upload and its resume entry alone. */
  private keep = false;

  constructor(source: ByteSource | Promise<ByteSource>, options: UploadOptions, platform: Partial<EngineIo>) {
    super();
    this.result = this.begin(options.signal, () => this.run(source, options, platform));
  }

  get uploadId(): string | null {
    return this.server.upload?.uploadId ?? null;
  }

  get uploadUrl(): string | null {
    return this.server.upload?.uploadUrl ?? null;
  }

  get creationUnanswered(): boolean {
    return this.server.unanswered;
  }

  abort(): Promise<void> {
    return this.stop(new UploadError('aborted', 'The upload was aborted.', { uploadId: this.uploadId }));
  }

  suspend(): Promise<void> {
    if (!this.aborter.signal.aborted) this.keep = true;
    return this.stop(new UploadError('aborted', 'The upload was stopped; it can be resumed.', { uploadId: this.uploadId }));
  }

  protected tracker(): ProgressTracker {
    return this.progressTracker;
  }

  private async run(sourceIn: ByteSource | Promise<ByteSource>, options: UploadOptions, platform: Partial<EngineIo>): Promise<UploadResult> {
    let ctx: UploadContext | null = null;
    let key: string | null = null;
    try {
      const o = resolveOptions(options, platform);
      const source = await Promise.resolve(sourceIn).catch((e: unknown) => {
        throw new UploadError('invalid', `Cannot open the source: ${(e as Error)?.message ?? e}`, { cause: e });
      });
      const startedAt = o.io.clock.now();
      ctx = this.context(o, source);
      key = o.resume ? resumeKey(ctx.api.serverUrl, source.fingerprint) : null;
      const { ref, pending } = await openUpload(ctx, key);
      // Stopped while the creation was answered: nothing more to send (a finished upload stands).
      if (!ref.finished && ctx.signal.aborted) throw ctx.signal.reason;
      const finished = ref.finished ?? (await sendMissing(ctx, ref, pending));
      if (key !== null) await o.io.resumeStore.delete(key);
      this.progressTracker.setPhase('done');
      emitProgress(ctx);
      return {
        uploadId: ref.uploadId,
        fileId: finished.fileId,
        fileUrl: finished.fileUrl,
        size: ref.plan.size,
        digest: ref.fileDigest,
        chunks: ref.plan.totalChunks,
        bytesSent: this.progressTracker.snapshot().bytesSent,
        durationMs: o.io.clock.now() - startedAt,
        resumed: ref.resumed,
      };
    } catch (e) {
      throw await this.failed(e, ctx, key);
    }
  }

  private context(o: ResolvedOptions, source: ByteSource): UploadContext {
    // Until the server first answers, a wrong address fails at once (network-failure.ts).
    const contact = { answered: false };
    const api = new FerryApi({ server: o.server, fetch: o.io.fetch, clock: o.io.clock, timeoutMs: o.timeoutMs, headers: o.headers, contact });
    // Four from the start: enough to overlap one chunk's fsync and round trip with the others' bytes
    // (1 GiB over loopback: 4 in flight were ~15% faster than 2); AIMD adapts from there.
    const controller = new ConcurrencyController({ mode: o.concurrency, max: Math.max(o.maxConcurrency, 1), initial: 4 });
    this.progressTracker.setConcurrency(controller.limit, 0);
    return {
      o,
      api,
      source,
      progress: this.progressTracker,
      controller,
      events: this.events,
      retry: {
        policy: o.retry,
        clock: o.io.clock,
        random: o.io.random,
        onRetry: (e) => this.events.emit('retry', e),
        giveUp: (reason, message, cause) => new UploadError(reason, message, { cause }),
        contact,
        wake: this.retryWake,
      },
      gate: this.gate,
      server: this.server,
      signal: this.aborter.signal,
    };
  }

  /** Turns any failure into the UploadError to reject with, cleaning up what it calls for. */
  private async failed(e: unknown, ctx: UploadContext | null, key: string | null): Promise<UploadError> {
    const store = ctx?.o.io.resumeStore;
    if (this.aborter.signal.aborted && this.keep) {
      return new UploadError('aborted', 'The upload was stopped; it can be resumed.', { uploadId: this.uploadId });
    }
    if (this.aborter.signal.aborted) {
      // abort(): delete the upload on the server (best effort) and forget it.
      // Before openUpload returned, the upload may exist only as the resume entry it just saved.
      const entry = key !== null && store ? await store.get(key).catch(() => undefined) : undefined;
      const target = this.server.upload ?? entry ?? null;
      if (ctx && target) await ctx.api.abort(target.uploadUrl, new AbortController().signal).catch(() => {});
      if (key !== null) await store?.delete(key).catch(() => {});
      return new UploadError('aborted', 'The upload was aborted.', { uploadId: target?.uploadId ?? null });
    }
    const error = e instanceof UploadError ? e : new UploadError(reasonOf(e), (e as Error)?.message ?? String(e), { cause: e });
    if (key !== null && error.problem && unresumable.has(error.problem.code)) await store?.delete(key).catch(() => {});
    if (error.uploadId !== null || this.uploadId === null) return error;
    return new UploadError(error.reason, error.message, { cause: error.cause, uploadId: this.uploadId, code: error.code });
  }
}

function reasonOf(e: unknown): UploadError['reason'] {
  if (e instanceof RangeError || e instanceof TypeError) return 'invalid';
  return 'fatal';
}
