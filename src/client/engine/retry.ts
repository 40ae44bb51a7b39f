// Retry policy as pure functions: classify a failure, back off with full jitter, honour Retry-After.
// Shared by uploads and downloads; the caller owns the clock and the loop.
import { FerryError } from '../../protocol/index.js';
import { NetworkError, TransferError } from './errors.js';

export interface RetryPolicy {
  /** Failures in a row of one request before giving up (server unreachable excepted, see outageMs). */
  maxAttempts: number;
  /** First backoff ceiling; doubles per failure in a row. */
  baseDelayMs: number;
  /** Backoff ceiling. */
  maxDelayMs: number;
  /** How long the server may stay unreachable (no response, 502/503/504) before giving up. */
  outageMs: number;
  /**
   * Digest mismatches of one chunk with the same wrong digest as the one before: the bytes are wrong
   * at their source (a changing file, a damaged stored copy), so trying again soon is pointless.
   * A mismatch with a new wrong digest each time is damage on the way and counts against maxAttempts.
   */
  maxDigestRetries: number;
  /** The longest Retry-After honoured; longer values are cut to this. */
  maxRetryAfterMs: number;
  /**
   * Dropped connections (no response, a timeout, 502/503/504 without Retry-After) retried at once
   * before the backoff starts: one cut is usually that connection's bad luck, not the server's.
   */
  immediateRetries: number;
  /**
   * Tries in all of a request whose host name DNS cannot resolve for now (EAI_AGAIN) before the server
   * first answered: quick, as such a failure usually clears in a moment or is a typo. Once the server
   * has answered, a DNS failure is part of an outage (outageMs).
   */
  dnsAttempts: number;
}

export const DefaultRetryPolicy: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 8,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  outageMs: 5 * 60_000,
  maxDigestRetries: 3,
  maxRetryAfterMs: 5 * 60_000,
  immediateRetries: 1,
  dnsAttempts: 3,
});

export type FailureKind =
  /** No HTTP response, a timeout, or 502/503/504: the server may be restarting. Bounded by time. */
  | 'unreachable'
  /**
   * 408, 429 (rate-limited), 500, 507, other 5xx, a malformed response: try again after a backoff (or
   * the Retry-After). Bounded by attempts.
   */
  | 'transient'
  /** chunk-in-progress: another request is writing it; wait Retry-After. Bounded by attempts. */
  | 'busy'
  /** digest-mismatch: the bytes were damaged on the way; re-read, re-hash, resend. */
  | 'corrupt'
  /** upload-completed: the server already has every chunk. */
  | 'completed'
  /** Our own signal aborted the request. */
  | 'aborted'
  /** Anything else: 4xx, conflicts, expired/aborted uploads, too many uploads in progress (429 too-many-uploads, quota-exceeded). */
  | 'fatal';

export interface Failure {
  kind: FailureKind;
  /** The raw Retry-After header value, when the server sent one. */
  retryAfter: string | null;
  /** For 'corrupt': the digest the damaged bytes had, when known. */
  actual?: string;
  /**
   * For 'unreachable', when waiting is no cure. 'hopeless': stop now (nothing listens, no such host,
   * before the server ever answered; a TLS certificate refused, always). 'dns': the host name did not
   * resolve for now before the server ever answered: a few quick tries (policy.dnsAttempts).
   */
  unreachable?: 'hopeless' | 'dns';
  /**
   * For 'unreachable': the connection broke mid-request (reset, cut, closed early), as opposed to
   * refused, unresolved or timed out.
   */
  broken?: boolean;
}

const transientStatuses = new Set([408, 429, 500, 507]);
const unreachableStatuses = new Set([502, 503, 504]);

/**
 * Sorts an error into what to do about it. `answered`: the transfer's server has answered before (a
 * refused connection is then a restart, not a wrong address); true when nobody keeps track.
 */
export function classifyError(error: unknown, signal?: AbortSignal, answered = true): Failure {
  if (signal?.aborted || isAbortError(error)) return { kind: 'aborted', retryAfter: null };
  if (error instanceof NetworkError) return unreachable(error, answered);
  // A 2xx whose body is not what the protocol says: damaged on the way (HTTP has no body check).
  if (error instanceof TransferError && error.code === 'protocol') return { kind: 'transient', retryAfter: null };
  if (!(error instanceof FerryError)) return { kind: 'fatal', retryAfter: null };
  // The Retry-After header (a string), else a problem body's own retryAfter member (seconds).
  const hint = error.extensions.retryAfter;
  const retryAfter = typeof hint === 'string' ? hint : typeof hint === 'number' ? String(hint) : null;
  switch (error.code) {
    case 'digest-mismatch': {
      const actual = error.extensions.actual;
      return typeof actual === 'string' ? { kind: 'corrupt', retryAfter, actual } : { kind: 'corrupt', retryAfter };
    }
    case 'chunk-in-progress':
      return { kind: 'busy', retryAfter };
    case 'upload-completed':
      return { kind: 'completed', retryAfter };
    // 429s about the caller's own uploads in progress: they clear when those uploads finish, are
    // aborted or expire, which waiting on this one does not bring about. (rate-limited is transient.)
    case 'too-many-uploads':
    case 'quota-exceeded':
      return { kind: 'fatal', retryAfter };
  }
  if (unreachableStatuses.has(error.status)) return { kind: 'unreachable', retryAfter };
  if (transientStatuses.has(error.status) || error.status > 500) return { kind: 'transient', retryAfter };
  return { kind: 'fatal', retryAfter };
}

function unreachable(error: NetworkError, answered: boolean): Failure {
  switch (error.code) {
    case 'tls':
    case 'unsupported-url':
    case 'redirects':
      return { kind: 'unreachable', retryAfter: null, unreachable: 'hopeless' };
    case 'connection-refused':
    case 'unknown-host':
      return answered ? { kind: 'unreachable', retryAfter: null } : { kind: 'unreachable', retryAfter: null, unreachable: 'hopeless' };
    case 'dns-temporary':
      return answered ? { kind: 'unreachable', retryAfter: null } : { kind: 'unreachable', retryAfter: null, unreachable: 'dns' };
    case 'network':
      return { kind: 'unreachable', retryAfter: null, broken: true };
    default:
      return { kind: 'unreachable', retryAfter: null };
  }
}

function isAbortError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'AbortError';
}

/** Full jitter: uniform in [0, min(max, base * 2^(failures-1))). `failures` counts from 1. */
export function backoffDelay(failures: number, policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>, random: () => number): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, failures - 1));
  return Math.floor(random() * exp);
}

/** Retry-After as milliseconds from `now`: delta-seconds or an HTTP-date; undefined when absent/invalid. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** What one request has been through so far; start with initialRetryState(). */
export interface RetryState {
  /** Failures in a row, of any kind (drives the backoff). */
  failures: number;
  /** Failures in a row that count against maxAttempts (transient, busy), or dnsAttempts (DNS before first contact). */
  attempts: number;
  /** Digest mismatches so far that repeated the wrong digest before them (see maxDigestRetries). */
  corrupt: number;
  /** The wrong digest of the last mismatch, to tell damage at the source from damage on the way. */
  lastActual: string | null;
  /** When the current stretch of "unreachable" began (epoch ms), or null. */
  outageSince: number | null;
}

export function initialRetryState(): RetryState {
  return { failures: 0, attempts: 0, corrupt: 0, lastActual: null, outageSince: null };
}

export type GiveUpReason = 'fatal' | 'retries-exhausted' | 'outage' | 'unreachable' | 'aborted' | 'completed';

export type RetryDecision =
  | { retry: true; delayMs: number; state: RetryState }
  | { retry: false; reason: GiveUpReason; state: RetryState };

/** Decides whether and when to try again after `failure`. Pure: the caller sleeps and loops. */
export function decideRetry(
  state: RetryState,
  failure: Failure,
  policy: RetryPolicy,
  now: number,
  random: () => number,
): RetryDecision {
  const next: RetryState = { ...state, failures: state.failures + 1 };
  const { kind } = failure;
  if (kind === 'fatal' || kind === 'aborted' || kind === 'completed') return { retry: false, reason: kind, state: next };
  if (failure.unreachable === 'hopeless') return { retry: false, reason: 'unreachable', state: next };
  if (failure.unreachable === 'dns') {
    next.attempts = state.attempts + 1;
    if (next.attempts >= policy.dnsAttempts) return { retry: false, reason: 'unreachable', state: next };
  }
  if (kind === 'unreachable') {
    next.outageSince = state.outageSince ?? now;
    if (now - next.outageSince >= policy.outageMs) return { retry: false, reason: 'outage', state: next };
  } else {
    next.outageSince = null;
  }
  if (kind === 'corrupt') {
    // The same wrong bytes again (or no way to tell): the source is bad. New wrong bytes: the network.
    const repeated = failure.actual === undefined || failure.actual === state.lastActual;
    next.lastActual = failure.actual ?? null;
    if (repeated) next.corrupt = state.corrupt + 1;
    else next.attempts = state.attempts + 1;
    if (next.corrupt > policy.maxDigestRetries || next.attempts >= policy.maxAttempts) {
      return { retry: false, reason: 'retries-exhausted', state: next };
    }
    return { retry: true, delayMs: 0, state: next };
  }
  if (kind === 'transient' || kind === 'busy') {
    next.attempts = state.attempts + 1;
    if (next.attempts >= policy.maxAttempts) return { retry: false, reason: 'retries-exhausted', state: next };
  }
  const hinted = parseRetryAfter(failure.retryAfter, now);
  if (hinted !== undefined) return { retry: true, delayMs: Math.min(hinted, policy.maxRetryAfterMs), state: next };
  if (kind === 'unreachable') {
    if (next.failures <= policy.immediateRetries) return { retry: true, delayMs: 0, state: next };
    return { retry: true, delayMs: backoffDelay(next.failures - policy.immediateRetries, policy, random), state: next };
  }
  return { retry: true, delayMs: backoffDelay(next.failures, policy, random), state: next };
}
