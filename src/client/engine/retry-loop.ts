// Runs one request until it succeeds or the retry policy gives up: the impure half of retry.ts.
import { TransferError, type StopReason } from './errors.js';
import type { Clock, Random } from './io.js';
import type { ServerContact } from './network-failure.js';
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
  /** The error to stop with (an UploadError, a DownloadError), its cause the last failure. */
  giveUp(reason: StopReason, message: string, cause: unknown): Error;
  /**
   * Whether the transfer's server has answered yet (its HTTP layer marks it). Before it has, a wrong
   * address fails at once instead of being waited out as an outage. Absent: taken as answered.
   */
  contact?: ServerContact;
  /** Cuts the waits between attempts short when woken (the transfer's retryNow()). */
  wake?: RetryWake;
}

export interface RetryTarget {
  what: string;
  index?: number;
  /** Told about each failure that is not our own abort (e.g. to back off concurrency). */
  onFailure?(failure: Failure): void;
}

const reasons: Record<Exclude<GiveUpReason, 'aborted'>, StopReason> = {
  fatal: 'fatal',
  completed: 'fatal',
  'retries-exhausted': 'retries-exhausted',
  outage: 'outage',
  unreachable: 'unreachable',
};

/**
 * Calls `attempt` until it resolves. `previous` is the last failure (null on the first call), so the
 * attempt can react: re-read after a digest mismatch, check status after a network error.
 * Gives up with ctx.giveUp(...) of the last error, or with that error itself when it is one of ours
 * that retrying cannot fix; an abort rethrows the signal's reason.
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
      const failure = classifyError(error, signal, ctx.contact?.answered ?? true);
      if (failure.kind === 'aborted') throw signal.aborted ? signal.reason : error;
      target.onFailure?.(failure);
      const decision = decideRetry(state, failure, ctx.policy, ctx.clock.now(), ctx.random);
      state = decision.state;
      if (!decision.retry) {
        if (decision.reason === 'aborted') throw error;
        if (decision.reason === 'fatal' && error instanceof TransferError) throw error;
        throw ctx.giveUp(reasons[decision.reason], giveUpMessage(target.what, decision.reason, state.failures, error), error);
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
      if (decision.delayMs > 0) await (ctx.wake ? ctx.wake.sleep(ctx.clock, decision.delayMs, signal) : ctx.clock.sleep(decision.delayMs, signal));
      else if (signal.aborted) throw signal.reason;
    }
  }
}

/** Why a wait ended early: wake(), not an abort. */
const woken = Symbol('woken');

/**
 * Ends every wait for a retry in progress at once, so the next attempts go now: a person who knows
 * the server is back ("Retry now") need not sit out the backoff. Attempts after that back off as before.
 */
export class RetryWake {
  private readonly waiting = new Set<() => void>();

  wake(): void {
    for (const w of [...this.waiting]) w();
  }

  /** clock.sleep(ms, signal), but resolving early on wake(); an abort of `signal` still rejects. */
  async sleep(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw signal.reason;
    const cut = new AbortController();
    const onAbort = () => cut.abort(signal.reason);
    const onWake = () => cut.abort(woken);
    signal.addEventListener('abort', onAbort, { once: true });
    this.waiting.add(onWake);
    try {
      await clock.sleep(ms, cut.signal);
    } catch (e) {
      if (signal.aborted) throw signal.reason;
      if (e !== woken) throw e;
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.waiting.delete(onWake);
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
    case 'unreachable':
      // The network error says it in one line already ("cannot connect to host:port (connection refused)").
      return last;
    default:
      return `${what} failed: ${last}`;
  }
}
