// A request presumed stalled: it has taken `factor` times as long as its bytes should at the rate
// requests have lately moved, and `slackMs` more. Its signal then aborts with a broken-connection
// NetworkError, so the retry goes at once on a fresh connection (and does not back the concurrency
// off). A stalled connection on a lossy path would otherwise hold its request, often the transfer's
// last, until the per-request timeout; cut, the server keeps what arrived and the retry continues
// the chunk. Uploads only: a download sees its bytes arrive and has an idle watchdog instead.
import { NetworkError } from './errors.js';
import type { Clock } from './io.js';

export interface StallWatch {
  /** Aborts when `parent` does, or when the request is presumed stalled. */
  signal: AbortSignal;
  /** The request is over: stop watching. */
  stop(): void;
}

/**
 * 3 s of slack: the server may hold a request on purpose for up to a chunk lease (2 s by default)
 * while the request it replaces winds down, and a flush takes its time.
 */
export const stallPolicy = { factor: 3, slackMs: 3_000 } as const;

/**
 * Watches a request of `bytes` bytes, given the recent per-request rate (bytes/ms, null: none known
 * yet, and nothing is watched).
 */
export function watchForStall(rate: number | null, bytes: number, clock: Clock, parent: AbortSignal, what: string): StallWatch {
  if (rate === null || !(rate > 0) || bytes <= 0) return { signal: parent, stop: () => {} };
  const limitMs = Math.ceil(stallPolicy.factor * (bytes / rate) + stallPolicy.slackMs);
  const ctl = new AbortController();
  const stopTimer = new AbortController();
  const onParent = () => ctl.abort(parent.reason);
  if (parent.aborted) onParent();
  else parent.addEventListener('abort', onParent, { once: true });
  clock.sleep(limitMs, stopTimer.signal).then(
    () => ctl.abort(new NetworkError(`${what}: no answer after ${limitMs} ms, ${stallPolicy.factor}× what its size takes lately; presumed stalled`, { code: 'network' })),
    () => {},
  );
  return {
    signal: ctl.signal,
    stop() {
      stopTimer.abort();
      parent.removeEventListener('abort', onParent);
    },
  };
}
