// Runs work items through two stages, prepare (read + hash) ahead and execute (send) in parallel,
// under a changing in-flight limit. Generic: uploads send chunks, downloads fetch ranges.
import type { PauseGate } from './pause-gate.js';

export interface PipelineOptions<T, P> {
  items: Iterable<T>;
  /** Prepares an item ahead of its turn (read + hash); null skips it (e.g. already on the server). */
  prepare(item: T, signal: AbortSignal): Promise<P | null>;
  /** Performs a prepared item, retries included; a rejection stops the pipeline. */
  execute(prepared: P, signal: AbortSignal): Promise<void>;
  /** The in-flight limit, read before every start (an adaptive controller's current limit). */
  limit(): number;
  /** Items prepared beyond those in flight; memory is about (limit + readAhead) items. */
  readAhead: number;
  /** While paused nothing new starts; work in flight finishes. */
  gate?: PauseGate;
  signal?: AbortSignal;
  /** Told the number of items executing whenever it changes. */
  onActive?(executing: number): void;
}

/**
 * Resolves when every item is done; on the first failure aborts the rest and rejects with it once
 * the work in flight has settled (so nothing runs on after the promise settles).
 */
export function runPipeline<T, P>(o: PipelineOptions<T, P>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const inner = new AbortController();
    // Each item gets a signal of its own, all aborted through one listener: a listener per item on
    // one shared signal passed Node's limit of 10 (a MaxListenersExceededWarning printed across the
    // CLI's progress line) once more than 10 requests were in flight.
    const live = new Set<AbortController>();
    inner.signal.addEventListener('abort', () => {
      for (const c of live) c.abort(inner.signal.reason);
    }, { once: true });
    const own = <R>(run: (signal: AbortSignal) => Promise<R>): Promise<R> => {
      const c = new AbortController();
      if (inner.signal.aborted) c.abort(inner.signal.reason);
      else live.add(c);
      return Promise.resolve()
        .then(() => run(c.signal))
        .finally(() => live.delete(c));
    };
    const iterator = o.items[Symbol.iterator]();
    const ready: P[] = [];
    let exhausted = false;
    let preparing = 0;
    let executing = 0;
    let failed = false;
    let settled = false;
    let waitingForResume = false;
    let error: unknown;

    const onAbort = () => fail(o.signal!.reason);
    const finish = (ok: boolean) => {
      settled = true;
      o.signal?.removeEventListener('abort', onAbort);
      if (ok) resolve();
      else reject(error);
    };
    const fail = (e: unknown) => {
      if (!failed) {
        failed = true;
        error = e;
        inner.abort(e);
      }
      pump();
    };

    const startExecute = () => {
      const prepared = ready.shift() as P;
      executing++;
      o.onActive?.(executing);
      own((signal) => o.execute(prepared, signal))
        .then(
          () => {
            executing--;
            o.onActive?.(executing);
            pump();
          },
          (e) => {
            executing--;
            o.onActive?.(executing);
            fail(e);
          },
        );
    };

    const startPrepare = (item: T) => {
      preparing++;
      own((signal) => o.prepare(item, signal))
        .then(
          (p) => {
            preparing--;
            if (p !== null && !failed) ready.push(p);
            pump();
          },
          (e) => {
            preparing--;
            fail(e);
          },
        );
    };

    function pump(): void {
      if (settled) return;
      if (failed) {
        if (preparing === 0 && executing === 0) finish(false);
        return;
      }
      if (o.gate?.paused) {
        if (!waitingForResume) {
          waitingForResume = true;
          o.gate.onResume(() => {
            waitingForResume = false;
            pump();
          });
        }
      } else {
        while (ready.length > 0 && executing < o.limit()) startExecute();
        while (!exhausted && preparing + ready.length + executing < o.limit() + o.readAhead) {
          const next = iterator.next();
          if (next.done) exhausted = true;
          else startPrepare(next.value);
        }
      }
      if (exhausted && preparing === 0 && executing === 0 && ready.length === 0) finish(true);
    }

    if (o.signal?.aborted) {
      error = o.signal.reason;
      finish(false);
      return;
    }
    o.signal?.addEventListener('abort', onAbort, { once: true });
    pump();
  });
}
