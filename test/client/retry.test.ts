// The retry policy: backoff growth, full-jitter bounds, cap, Retry-After, classification, decisions.
import { describe, expect, it } from 'vitest';
import { FerryError } from '../../src/protocol/index.js';
import { NetworkError } from '../../src/client/engine/errors.js';
import { UploadError, type UploadErrorReason } from '../../src/client/upload/errors.js';
import {
  backoffDelay,
  classifyError,
  decideRetry,
  DefaultRetryPolicy,
  initialRetryState,
  parseRetryAfter,
  type Failure,
  type RetryPolicy,
} from '../../src/client/engine/retry.js';
import { withRetry } from '../../src/client/engine/retry-loop.js';
import { FakeClock, fixedRandom } from './support/fake-clock.js';

const policy: RetryPolicy = { ...DefaultRetryPolicy, baseDelayMs: 100, maxDelayMs: 10_000, maxAttempts: 5, outageMs: 60_000 };
/** What an upload gives up with (the loop itself knows only the error base). */
const giveUp = (reason: UploadErrorReason, message: string, cause: unknown) => new UploadError(reason, message, { cause });

describe('backoffDelay', () => {
  it('doubles its ceiling per failure (random = just under 1)', () => {
    const r = () => 0.999999;
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, policy, r))).toEqual([99, 199, 399, 799, 1599]);
  });

  it('is full jitter: anywhere from 0 to the ceiling', () => {
    expect(backoffDelay(4, policy, () => 0)).toBe(0);
    expect(backoffDelay(4, policy, () => 0.5)).toBe(400);
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(3, policy, Math.random);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(400);
    }
  });

  it('is capped at maxDelayMs', () => {
    expect(backoffDelay(30, policy, () => 0.999999)).toBe(9999);
    expect(backoffDelay(1000, policy, () => 0.999999)).toBe(9999);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it('reads delta-seconds', () => {
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
  });
  it('reads an HTTP-date relative to now, never negative', () => {
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now)).toBe(0);
  });
  it('ignores absent or malformed values', () => {
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('-1', now)).toBeUndefined();
    expect(parseRetryAfter('1.5', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });
});

describe('classifyError', () => {
  const kind = (e: unknown) => classifyError(e).kind;
  it('retries network errors and an unavailable server as "unreachable"', () => {
    expect(kind(new NetworkError('ECONNREFUSED'))).toBe('unreachable');
    expect(kind(new NetworkError('timed out', { timeout: true }))).toBe('unreachable');
    expect(kind(new FerryError('service-unavailable'))).toBe('unreachable');
    expect(kind(new FerryError('internal-error', 'bad gateway', {}, 502))).toBe('unreachable');
    expect(kind(new FerryError('internal-error', 'gateway timeout', {}, 504))).toBe('unreachable');
  });
  it('retries 408, 429, 500, 507 with backoff', () => {
    expect(kind(new FerryError('request-timeout'))).toBe('transient');
    expect(kind(new FerryError('service-unavailable', 'slow down', {}, 429))).toBe('transient');
    expect(kind(new FerryError('internal-error'))).toBe('transient');
    expect(kind(new FerryError('insufficient-storage'))).toBe('transient');
  });
  it('retries rate-limited after its Retry-After, but stops on too-many-uploads and quota-exceeded', () => {
    expect(classifyError(new FerryError('rate-limited', 'slow down', { retryAfter: 2 }))).toEqual({ kind: 'transient', retryAfter: '2' });
    expect(classifyError(new FerryError('too-many-uploads', 'finish some', { retryAfter: 60 }))).toEqual({ kind: 'fatal', retryAfter: '60' });
    expect(classifyError(new FerryError('quota-exceeded', 'finish some', { retryAfter: 60 }))).toEqual({ kind: 'fatal', retryAfter: '60' });
  });
  it('retries a malformed response (damaged on the way) like a 5xx', () => {
    expect(kind(new UploadError('protocol', 'not JSON'))).toBe('transient');
  });
  it('re-reads on digest mismatch, waits on chunk-in-progress, stops on upload-completed', () => {
    expect(kind(new FerryError('digest-mismatch'))).toBe('corrupt');
    expect(classifyError(new FerryError('digest-mismatch', 'x', { actual: 'sha-256=:AA=:' }))).toMatchObject({ kind: 'corrupt', actual: 'sha-256=:AA=:' });
    const busy = classifyError(new FerryError('chunk-in-progress', undefined, { retryAfter: '2' }));
    expect(busy).toEqual({ kind: 'busy', retryAfter: '2' });
    expect(kind(new FerryError('upload-completed'))).toBe('completed');
    // A problem body's numeric retryAfter member counts when no header came.
    expect(classifyError(new FerryError('insufficient-storage', undefined, { retryAfter: 10 })).retryAfter).toBe('10');
  });
  it('gives up on everything else', () => {
    for (const code of ['chunk-conflict', 'upload-expired', 'upload-aborted', 'upload-failed', 'upload-not-found', 'file-too-large', 'malformed-request', 'invalid-chunk-size'] as const) {
      expect(kind(new FerryError(code)), code).toBe('fatal');
    }
    expect(kind(new Error('bug'))).toBe('fatal');
    expect(kind(new UploadError('invalid', 'not a Ferry server'))).toBe('fatal');
  });
  it('sees our own abort as "aborted"', () => {
    const ctl = new AbortController();
    ctl.abort();
    expect(classifyError(new NetworkError('x'), ctl.signal).kind).toBe('aborted');
    expect(kind(new DOMException('stop', 'AbortError'))).toBe('aborted');
  });
});

describe('decideRetry', () => {
  const f = (kind: Failure['kind'], retryAfter: string | null = null): Failure => ({ kind, retryAfter });
  const half = () => 0.5;

  it('gives up after maxAttempts transient failures in a row', () => {
    let state = initialRetryState();
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const d = decideRetry(state, f('transient'), policy, 0, half);
      expect(d.retry).toBe(true);
      if (d.retry) delays.push(d.delayMs);
      state = d.state;
    }
    expect(delays).toEqual([50, 100, 200, 400]);
    const last = decideRetry(state, f('transient'), policy, 0, half);
    expect(last).toMatchObject({ retry: false, reason: 'retries-exhausted' });
  });

  it('keeps retrying an unreachable server until the outage budget is spent', () => {
    let state = initialRetryState();
    let t = 0;
    for (let i = 0; i < 50; i++) {
      const d = decideRetry(state, f('unreachable'), policy, t, half);
      expect(d.retry, `attempt ${i}`).toBe(true);
      state = d.state;
      t += 1000;
    }
    // 50 attempts is far beyond maxAttempts; only time ends it.
    const d = decideRetry(state, f('unreachable'), policy, 60_000, half);
    expect(d).toMatchObject({ retry: false, reason: 'outage' });
  });

  it('retries a dropped connection at once the first time, then backs off from the base delay', () => {
    let state = initialRetryState();
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const d = decideRetry(state, f('unreachable'), policy, 0, half);
      if (d.retry) delays.push(d.delayMs);
      state = d.state;
    }
    expect(delays).toEqual([0, 50, 100, 200]);
    const none = { ...policy, immediateRetries: 0 };
    expect(decideRetry(initialRetryState(), f('unreachable'), none, 0, half)).toMatchObject({ retry: true, delayMs: 50 });
    // Only dropped connections: an error answer from the server still waits.
    expect(decideRetry(initialRetryState(), f('transient'), policy, 0, half)).toMatchObject({ retry: true, delayMs: 50 });
  });

  it('honours Retry-After (capped) instead of the backoff', () => {
    const d = decideRetry(initialRetryState(), f('busy', '3'), policy, 0, half);
    expect(d).toMatchObject({ retry: true, delayMs: 3000 });
    const long = decideRetry(initialRetryState(), f('unreachable', '86400'), policy, 0, half);
    expect(long).toMatchObject({ retry: true, delayMs: policy.maxRetryAfterMs });
  });

  it('retries a digest mismatch at once, a bounded number of times', () => {
    let state = initialRetryState();
    for (let i = 0; i < policy.maxDigestRetries; i++) {
      const d = decideRetry(state, f('corrupt'), policy, 0, half);
      expect(d).toMatchObject({ retry: true, delayMs: 0 });
      state = d.state;
    }
    expect(decideRetry(state, f('corrupt'), policy, 0, half)).toMatchObject({ retry: false, reason: 'retries-exhausted' });
  });

  it('counts a new wrong digest each time as damage on the way, bounded by maxAttempts', () => {
    let state = initialRetryState();
    for (let i = 1; i < policy.maxAttempts; i++) {
      const d = decideRetry(state, { kind: 'corrupt', retryAfter: null, actual: `wrong-${i}` }, policy, 0, half);
      expect(d).toMatchObject({ retry: true, delayMs: 0 });
      state = d.state;
    }
    expect(state.corrupt).toBe(0);
    const last = decideRetry(state, { kind: 'corrupt', retryAfter: null, actual: 'wrong-last' }, policy, 0, half);
    expect(last).toMatchObject({ retry: false, reason: 'retries-exhausted' });
  });

  it('gives up sooner when the same wrong digest repeats (the source is bad)', () => {
    let state = initialRetryState();
    const same = { kind: 'corrupt' as const, retryAfter: null, actual: 'always-this' };
    let tries = 0;
    for (;;) {
      const d = decideRetry(state, same, policy, 0, half);
      tries++;
      if (!d.retry) break;
      state = d.state;
    }
    // The first mismatch cannot be told apart from network damage; every repeat counts.
    expect(tries).toBe(policy.maxDigestRetries + 2);
  });

  it('never retries fatal, aborted or completed', () => {
    for (const kind of ['fatal', 'aborted', 'completed'] as const) {
      expect(decideRetry(initialRetryState(), f(kind), policy, 0, half)).toMatchObject({ retry: false, reason: kind });
    }
  });
});

describe('withRetry (fake clock)', () => {
  it('sleeps the decided delays and returns the first success', async () => {
    const clock = new FakeClock(0, true);
    let calls = 0;
    const seen: (string | null)[] = [];
    const value = await withRetry(
      async (previous) => {
        seen.push(previous?.kind ?? null);
        if (++calls < 4) throw new FerryError('internal-error');
        return 'ok';
      },
      { policy, clock, random: fixedRandom(0.5), giveUp },
      { what: 'test' },
      new AbortController().signal,
    );
    expect(value).toBe('ok');
    expect(clock.sleeps).toEqual([50, 100, 200]);
    expect(seen).toEqual([null, 'transient', 'transient', 'transient']);
  });

  it('gives up with an UploadError carrying the problem', async () => {
    const clock = new FakeClock(0, true);
    const err = await withRetry(
      async () => {
        throw new FerryError('chunk-conflict', 'stored with another digest');
      },
      { policy, clock, random: Math.random, giveUp },
      { what: 'chunk 3', index: 3 },
      new AbortController().signal,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UploadError);
    expect((err as UploadError).reason).toBe('fatal');
    expect((err as UploadError).problem?.code).toBe('chunk-conflict');
    expect(clock.sleeps).toEqual([]);
  });

  it('survives a server outage shorter than the budget', async () => {
    const clock = new FakeClock(0, true);
    const value = await withRetry(
      async () => {
        if (clock.now() < 45_000) throw new NetworkError('ECONNREFUSED');
        return 'back';
      },
      { policy, clock, random: fixedRandom(0.9), giveUp },
      { what: 'x' },
      new AbortController().signal,
    );
    expect(value).toBe('back');
    expect(clock.sleeps.length).toBeGreaterThan(policy.maxAttempts);
  });

  it('reports an outage longer than the budget', async () => {
    const clock = new FakeClock(0, true);
    const err = await withRetry(
      async () => {
        throw new NetworkError('ECONNREFUSED');
      },
      { policy, clock, random: fixedRandom(0.9), giveUp },
      { what: 'x' },
      new AbortController().signal,
    ).catch((e: unknown) => e);
    expect((err as UploadError).reason).toBe('outage');
    expect(clock.now()).toBeGreaterThanOrEqual(policy.outageMs);
  });

  it('stops sleeping when aborted', async () => {
    const clock = new FakeClock(0);
    const ctl = new AbortController();
    const p = withRetry(
      async () => {
        throw new NetworkError('down');
      },
      { policy, clock, random: fixedRandom(0.5), giveUp },
      { what: 'x' },
      ctl.signal,
    );
    await Promise.resolve();
    ctl.abort(new Error('user abort'));
    await expect(p).rejects.toThrow('user abort');
  });
});
