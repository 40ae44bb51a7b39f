// Adaptive concurrency (AIMD on goodput): how many requests may be in flight. One more slot while
// goodput per window keeps rising; half on an error, a timeout or falling goodput; a slot that
// brought nothing (or whose window saw goodput fall) is given back, and steady windows probe again.
// Pure: time is passed in.
// Generic over what is transferred, so uploads and downloads share it.

export type ConcurrencyMode = 'auto' | number;

export interface ConcurrencyOptions {
  /** 'auto' adapts; a number fixes the limit (1 = strictly sequential). */
  mode: ConcurrencyMode;
  /** Starting limit in auto mode. */
  initial: number;
  min: number;
  max: number;
  /**
   * A measurement window lasts at least this long and until `limit` requests completed in it, so
   * slow large requests still give a meaningful sample.
   */
  windowMs: number;
  /** Goodput must rise by more than this fraction over the last window to add a slot. */
  increaseThreshold: number;
  /** Goodput falling by more than this fraction halves the limit (measurement noise stays below it). */
  decreaseThreshold: number;
  /** After this many steady windows, try one more slot (the network may have improved). */
  probeAfterWindows: number;
}

export const DefaultConcurrency: Readonly<ConcurrencyOptions> = Object.freeze({
  mode: 'auto',
  initial: 2,
  min: 1,
  max: 16,
  windowMs: 1000,
  increaseThreshold: 0.05,
  decreaseThreshold: 0.15,
  probeAfterWindows: 4,
});

/** Why the limit last changed; for logs and tests. */
export type ConcurrencyChange =
  /** Goodput rose: one more slot. */
  | 'increase'
  /** A new baseline was measured (start, after a decrease): probe one more slot. */
  | 'baseline'
  /** Steady goodput long enough: probe one more slot. */
  | 'probe'
  /** The last added slot brought no gain: take it back. */
  | 'undo'
  | 'hold'
  | 'decrease-goodput'
  | 'decrease-error';

export class ConcurrencyController {
  private readonly opts: ConcurrencyOptions;
  private current: number;
  private windowStart: number | null = null;
  private windowBytes = 0;
  private windowCount = 0;
  /** Goodput (bytes/ms) of the last closed window; null until one closes after a reset. */
  private baseline: number | null = null;
  /** Windows closed so far; at most one decrease on error per window. */
  private windowId = 0;
  private lastErrorWindow = -1;
  private lastChange: ConcurrencyChange = 'hold';
  /** The last window added a slot; the next tells whether it helped. */
  private probing = false;
  private steadyWindows = 0;

  constructor(options: Partial<ConcurrencyOptions> = {}) {
    this.opts = { ...DefaultConcurrency, ...options };
    const { mode, min, max } = this.opts;
    if (!(min >= 1 && max >= min)) throw new RangeError(`concurrency bounds [${min}, ${max}] are invalid`);
    if (mode !== 'auto' && !(Number.isInteger(mode) && mode >= 1)) {
      throw new RangeError(`concurrency must be 'auto' or a positive integer; got ${mode}`);
    }
    this.current = mode === 'auto' ? clamp(this.opts.initial, min, max) : mode;
  }

  /** How many requests may be in flight now. */
  get limit(): number {
    return this.current;
  }

  get adaptive(): boolean {
    return this.opts.mode === 'auto';
  }

  get lastDecision(): ConcurrencyChange {
    return this.lastChange;
  }

  /** Starts the first measurement window (otherwise the first completion starts it). */
  begin(now: number): void {
    if (this.windowStart === null) this.windowStart = now;
  }

  /** A known goodput (e.g. the sequential first chunk) to compare the first window against. */
  seed(bytes: number, durationMs: number): void {
    if (this.adaptive && durationMs > 0) this.baseline = bytes / durationMs;
  }

  /** A request completed and moved `bytes` of useful data. */
  onSuccess(bytes: number, now: number): void {
    if (!this.adaptive) return;
    if (this.windowStart === null) this.windowStart = now;
    this.windowBytes += bytes;
    this.windowCount++;
    const elapsed = now - this.windowStart;
    if (elapsed < this.opts.windowMs || this.windowCount < this.current) return;
    this.closeWindow(this.windowBytes / Math.max(elapsed, 1), now);
  }

  /** A request failed or timed out: halve, at most once per window (failures come in bursts). */
  onFailure(now: number): void {
    if (!this.adaptive || this.lastErrorWindow === this.windowId) return;
    this.decrease('decrease-error', now);
    // Requests already in flight may fail too; they say nothing about the new limit.
    this.lastErrorWindow = this.windowId;
  }

  private closeWindow(goodput: number, now: number): void {
    const base = this.baseline;
    this.startWindow(now);
    if (base === null) {
      this.baseline = goodput;
      this.grow('baseline');
    } else if (goodput > base * (1 + this.opts.increaseThreshold)) {
      this.baseline = goodput;
      this.grow('increase');
    } else if (goodput < base * (1 - this.opts.decreaseThreshold) && this.probing) {
      // The window that tried one more slot went worse: give that slot back, and judge the next
      // window against this one. Halving here turned one slow second (a busy disk, another
      // process) into half the streams for the rest of a transfer.
      this.undoProbe(goodput);
    } else if (goodput < base * (1 - this.opts.decreaseThreshold)) {
      this.decrease('decrease-goodput', now);
    } else if (this.probing) {
      // The extra slot did not pay: give it back (fewer buffers, same goodput).
      this.undoProbe(Math.max(base, goodput));
    } else if (++this.steadyWindows >= this.opts.probeAfterWindows) {
      this.grow('probe');
    } else {
      this.lastChange = 'hold';
    }
  }

  private undoProbe(baseline: number): void {
    this.probing = false;
    this.steadyWindows = 0;
    this.current = Math.max(this.opts.min, this.current - 1);
    this.baseline = baseline;
    this.lastChange = 'undo';
  }

  private grow(why: ConcurrencyChange): void {
    this.steadyWindows = 0;
    this.probing = this.current < this.opts.max;
    this.current = Math.min(this.current + 1, this.opts.max);
    this.lastChange = this.probing ? why : 'hold';
  }

  private decrease(why: ConcurrencyChange, now: number): void {
    this.current = Math.max(this.opts.min, Math.floor(this.current / 2));
    this.lastChange = why;
    this.probing = false;
    this.steadyWindows = 0;
    // The next window runs at the new limit; compare later windows with it, not with the old one.
    this.baseline = null;
    this.startWindow(now);
  }

  private startWindow(now: number): void {
    this.windowId++;
    this.windowStart = now;
    this.windowBytes = 0;
    this.windowCount = 0;
  }
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(Math.max(n, lo), hi);
}
