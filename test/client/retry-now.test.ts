// retryNow(): a wait for a retry is cut short when woken (the page's "Retry now"), an abort still
// ends it, and a wake with nobody waiting changes nothing later.
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/client/engine/clock.js';
import { NetworkError } from '../../src/client/engine/errors.js';
import { RetryWake, withRetry } from '../../src/client/engine/retry-loop.js';
import { DefaultRetryPolicy, type RetryPolicy } from '../../src/client/engine/retry.js';
import { UploadError, type UploadErrorReason } from '../../src/client/upload/errors.js';

/** Every wait a minute long: a test that finishes in well under that was woken. */
const policy: RetryPolicy = { ...DefaultRetryPolicy, baseDelayMs: 60_000, maxDelayMs: 60_000, immediateRetries: 0 };
const giveUp = (reason: UploadErrorReason, message: string, cause: unknown) => new UploadError(reason, message, { cause });

describe('RetryWake', () => {
  it('wake() sends the waiting retry now', async () => {
    const wake = new RetryWake();
    let calls = 0;
    const delays: number[] = [];
    const started = Date.now();
    const value = await withRetry(
      async () => {
        if (++calls === 1) throw new NetworkError('connection refused');
        return 'sent';
      },
      {
        policy,
        // Woken the moment the loop is asleep (RetryWake registers its waiter before it sleeps).
        clock: {
          ...systemClock,
          sleep: (ms, signal) => {
            const asleep = systemClock.sleep(ms, signal);
            wake.wake();
            return asleep;
          },
        },
        random: () => 0.9,
        giveUp,
        wake,
        onRetry: (e) => delays.push(e.delayMs),
      },
      { what: 'chunk 0', index: 0 },
      new AbortController().signal,
    );
    expect(value).toBe('sent');
    expect(delays).toEqual([54_000]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('an abort still ends the wait with its reason', async () => {
    const wake = new RetryWake();
    const aborter = new AbortController();
    const reason = new Error('stopped');
    const outcome = withRetry(
      async () => {
        throw new NetworkError('connection refused');
      },
      { policy, clock: systemClock, random: () => 0.9, giveUp, wake, onRetry: () => setTimeout(() => aborter.abort(reason), 20) },
      { what: 'chunk 0' },
      aborter.signal,
    );
    await expect(outcome).rejects.toBe(reason);
  });

  it('a wake with nobody waiting does not shorten a later wait', async () => {
    const wake = new RetryWake();
    wake.wake();
    const aborter = new AbortController();
    const sleeping = wake.sleep(systemClock, 200, aborter.signal);
    const started = Date.now();
    await sleeping;
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
  });
});
