// Runs one request until it succeeds or the retry policy gives up: the impure half of retry.ts.
import { UploadError, type UploadErrorReason } from './errors.js';
import type { Clock, Random } from './io.js';
import { classifyError, decideRetry, initialRetryState, type Failure, type GiveUpReason, type RetryPolicy } from './retry.js';

export interface RetryEvent {
  /** What is retried, e.g. "chunk 7" or "create upload". */
  what: string;
  /** The chunk index, when it is a chunk. */
  index: number | null;
  /** Failures in a row so far. */
  failures: number;
  delayMs: number;
  kind: Failure['kind'];
  error: unknown;
}

export interface RetryContext {
  policy: RetryPolicy;
  clock: Clock;
  random: Random;
  /** Told about every failure that will be retried (before the sleep). */
  onRetry?(event: RetryEvent): void;
}

export interface RetryTarget {
  what: string;
  index?: number;
  /** Told about each failure that is not our own abort (e.g. to back off concurrency). */
  onFailure?(failure: Failure): void;
}

const reasons: Record<GiveUpReason, UploadErrorReason> = {
  fatal: 'fatal',
  completed: 'fatal',
  'retries-exhausted': 'retries-exhausted',
  outage: 'outage',
  aborted: 'aborted',
};

/**
 * Calls `attempt` until it resolves. `previous` is the last failure (null on the first call), so the
 * attempt can react: re-read after a digest mismatch, check status after a network error.
 * Gives up with an UploadError whose cause is the last error; an abort rethrows the signal's reason.
 */
export async function withRetry<T>(
  attempt: (previous: Failure | null) => Promise<T>,
  ctx: RetryContext,
  target: RetryTarget,
  signal: AbortSignal,
): Promise<T> {
  let state = initialRetryState();
  let previous: Failure | null = null;
  for (;;) {
    try {
      return await attempt(previous);
    } catch (error) {
      const failure = classifyError(error, signal);
      if (failure.kind === 'aborted') throw signal.aborted ? signal.reason : error;
      target.onFailure?.(failure);
      const decision = decideRetry(state, failure, ctx.policy, ctx.clock.now(), ctx.random);
      state = decision.state;
      if (!decision.retry) {
        if (error instanceof UploadError) throw error;
        throw new UploadError(reasons[decision.reason], giveUpMessage(target.what, decision.reason, state.failures, error), {
          cause: error,
        });
      }
      ctx.onRetry?.({
        what: target.what,
        index: target.index ?? null,
        failures: state.failures,
        delayMs: decision.delayMs,
        kind: failure.kind,
        error,
      });
      previous = failure;
      if (decision.delayMs > 0) await ctx.clock.sleep(decision.delayMs, signal);
      else if (signal.aborted) throw signal.reason;
    }
  }
}

function giveUpMessage(what: string, reason: GiveUpReason, failures: number, error: unknown): string {
  const last = error instanceof Error ? error.message : String(error);
  switch (reason) {
    case 'retries-exhausted':
      return `${what} failed ${failures} times in a row; last error: ${last}`;
    case 'outage':
      return `${what}: the server stayed unreachable too long; last error: ${last}`;
    default:
      return `${what} failed: ${last}`;
  }
}
