// Gives memory back once a burst of downloads is over. A server with nothing to do allocates nothing,
// so V8 never collects: the buffers and sockets a thousand departed readers held would keep the
// process at its peak size indefinitely. One full collection, a moment after the last download ends, returns it.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** How long downloads must have been quiet before collecting (a new download cancels it). */
export const IdleCollectDelayMs = 2_000;

let collect: (() => void) | null | undefined;

/** V8's full collection, exposed at run time (no node flag needed); null where that is refused. */
function fullCollection(): (() => void) | null {
  if (collect === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      collect = runInNewContext('gc') as () => void;
    } catch {
      collect = null;
    }
  }
  return collect;
}

export class IdleCollector {
  #timer: NodeJS.Timeout | undefined;
  /** Collections run so far (for tests and logs). */
  runs = 0;

  constructor(private readonly delayMs = IdleCollectDelayMs) {}

  /** The last download just ended: collect once `delayMs` pass without another starting. */
  idle(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const gc = fullCollection();
      if (!gc) return;
      gc();
      this.runs++;
    }, this.delayMs);
    this.#timer.unref();
  }

  /** A download started: the burst is not over. */
  busy(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
