// upload(): the handle (events, pause/resume/abort, result) around one run of session + transfer.
import { FerryApi } from './api.js';
import { ConcurrencyController } from './concurrency.js';
import { emitProgress, type UploadContext, type UploadEvents, type UploadResult } from './context.js';
import { Emitter, type Listener } from './emitter.js';
import { UploadError } from './errors.js';
import type { ByteSource, EngineIo } from './io.js';
import { resolveOptions, resumeKey, type ResolvedOptions, type UploadOptions } from './options.js';
import { PauseGate } from './pause-gate.js';
import { ProgressTracker, type Progress } from './progress.js';
import { openUpload } from './session.js';
import { transfer } from './transfer.js';

export interface UploadHandle {
  /** Resolves with the stored file; rejects with an UploadError. */
  readonly result: Promise<UploadResult>;
  on<K extends keyof UploadEvents>(event: K, listener: Listener<UploadEvents[K]>): () => void;
  off<K extends keyof UploadEvents>(event: K, listener: Listener<UploadEvents[K]>): void;
  /** Starts no new chunks; those in flight finish. */
  pause(): void;
  resume(): void;
  readonly paused: boolean;
  /** Cancels requests, deletes the upload on the server, forgets the resume entry; resolves when done. */
  abort(): Promise<void>;
  /** The upload's id once it exists on the server. */
  readonly uploadId: string | null;
  progress(): Progress;
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

class Upload implements UploadHandle {
  readonly result: Promise<UploadResult>;
  private readonly events = new Emitter<UploadEvents>();
  private readonly gate = new PauseGate();
  private readonly tracker = new ProgressTracker();
  private readonly aborter = new AbortController();
  private ref: { uploadId: string; uploadUrl: string } | null = null;
  private aborted: Promise<void> | null = null;

  constructor(source: ByteSource | Promise<ByteSource>, options: UploadOptions, platform: Partial<EngineIo>) {
    const outer = options.signal;
    const onOuterAbort = () => void this.abort();
    if (outer?.aborted) onOuterAbort();
    else outer?.addEventListener('abort', onOuterAbort, { once: true });
    this.result = this.run(source, options, platform).finally(() => outer?.removeEventListener('abort', onOuterAbort));
  }

  get paused(): boolean {
    return this.gate.paused;
  }

  get uploadId(): string | null {
    return this.ref?.uploadId ?? null;
  }

  on<K extends keyof UploadEvents>(event: K, listener: Listener<UploadEvents[K]>): () => void {
    return this.events.on(event, listener);
  }

  off<K extends keyof UploadEvents>(event: K, listener: Listener<UploadEvents[K]>): void {
    this.events.off(event, listener);
  }

  progress(): Progress {
    return this.tracker.snapshot();
  }

  pause(): void {
    if (this.gate.paused) return;
    this.gate.pause();
    if (this.tracker.snapshot().phase === 'transferring') this.tracker.setPhase('paused');
    this.events.emit('progress', this.tracker.snapshot());
  }

  resume(): void {
    if (!this.gate.paused) return;
    if (this.tracker.snapshot().phase === 'paused') this.tracker.setPhase('transferring');
    this.gate.resume();
    this.events.emit('progress', this.tracker.snapshot());
  }

  abort(): Promise<void> {
    if (!this.aborted) {
      this.aborter.abort(new UploadError('aborted', 'The upload was aborted.', { uploadId: this.uploadId }));
      this.gate.resume();
      this.aborted = this.result.then(
        () => {},
        () => {},
      );
    }
    return this.aborted;
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
      this.ref = ref;
      const finished = ref.finished ?? (await transfer(ctx, ref, pending));
      if (key !== null) await o.io.resumeStore.delete(key);
      this.tracker.setPhase('done');
      emitProgress(ctx);
      return {
        uploadId: ref.uploadId,
        fileId: finished.fileId,
        fileUrl: finished.fileUrl,
        size: ref.plan.size,
        digest: ref.fileDigest,
        chunks: ref.plan.totalChunks,
        bytesSent: this.tracker.snapshot().bytesSent,
        durationMs: o.io.clock.now() - startedAt,
        resumed: ref.resumed,
      };
    } catch (e) {
      throw await this.failed(e, ctx, key);
    }
  }

  private context(o: ResolvedOptions, source: ByteSource): UploadContext {
    const api = new FerryApi({ server: o.server, fetch: o.io.fetch, clock: o.io.clock, timeoutMs: o.timeoutMs, headers: o.headers });
    // Four from the start: enough to overlap one chunk's fsync and round trip with the others' bytes
    // (1 GiB over loopback: 4 in flight were ~15% faster than 2); AIMD adapts from there.
    const controller = new ConcurrencyController({ mode: o.concurrency, max: Math.max(o.maxConcurrency, 1), initial: 4 });
    this.tracker.setConcurrency(controller.limit, 0);
    return {
      o,
      api,
      source,
      progress: this.tracker,
      controller,
      events: this.events,
      retry: { policy: o.retry, clock: o.io.clock, random: o.io.random, onRetry: (e) => this.events.emit('retry', e) },
      gate: this.gate,
      signal: this.aborter.signal,
    };
  }

  /** Turns any failure into the UploadError to reject with, cleaning up what it calls for. */
  private async failed(e: unknown, ctx: UploadContext | null, key: string | null): Promise<UploadError> {
    const store = ctx?.o.io.resumeStore;
    if (this.aborter.signal.aborted) {
      // abort(): delete the upload on the server (best effort) and forget it.
      // Before openUpload returned, the upload may exist only as the resume entry it just saved.
      const entry = key !== null && store ? await store.get(key).catch(() => undefined) : undefined;
      const target = this.ref ?? entry ?? null;
      if (ctx && target) await ctx.api.abort(target.uploadUrl, new AbortController().signal).catch(() => {});
      if (key !== null) await store?.delete(key).catch(() => {});
      return new UploadError('aborted', 'The upload was aborted.', { uploadId: target?.uploadId ?? null });
    }
    const error = e instanceof UploadError ? e : new UploadError(reasonOf(e), (e as Error)?.message ?? String(e), { cause: e });
    if (key !== null && error.problem && unresumable.has(error.problem.code)) await store?.delete(key).catch(() => {});
    if (error.uploadId !== null || this.ref === null) return error;
    return new UploadError(error.reason, error.message, { cause: error.cause, uploadId: this.ref.uploadId });
  }
}

function reasonOf(e: unknown): UploadError['reason'] {
  if (e instanceof RangeError || e instanceof TypeError) return 'invalid';
  return 'fatal';
}
