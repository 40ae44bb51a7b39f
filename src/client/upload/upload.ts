// upload(): the handle (events, pause/resume/abort, result) around one run of session + send.
import { ConcurrencyController } from '../engine/concurrency.js';
import { ProgressTracker } from '../engine/progress.js';
import { Transfer, emitProgress, type TransferHandle } from '../engine/transfer.js';
import { FerryApi } from './api.js';
import type { UploadContext, UploadEvents, UploadResult } from './context.js';
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
  /** Cancels requests, deletes the upload on the server, forgets the resume entry; resolves when done. */
  abort(): Promise<void>;
  /** The upload's id once it exists on the server. */
  readonly uploadId: string | null;
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
  private ref: { uploadId: string; uploadUrl: string } | null = null;

  constructor(source: ByteSource | Promise<ByteSource>, options: UploadOptions, platform: Partial<EngineIo>) {
    super();
    this.result = this.begin(options.signal, () => this.run(source, options, platform));
  }

  get uploadId(): string | null {
    return this.ref?.uploadId ?? null;
  }

  abort(): Promise<void> {
    return this.stop(new UploadError('aborted', 'The upload was aborted.', { uploadId: this.uploadId }));
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
      this.ref = ref;
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
      },
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
    return new UploadError(error.reason, error.message, { cause: error.cause, uploadId: this.ref.uploadId, code: error.code });
  }
}

function reasonOf(e: unknown): UploadError['reason'] {
  if (e instanceof RangeError || e instanceof TypeError) return 'invalid';
  return 'fatal';
}
