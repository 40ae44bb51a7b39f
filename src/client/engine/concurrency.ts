// Adaptive concurrency: how many requests may be in flight. Two phases, as TCP has.
// - Ramp (slow start): every request that moved at close to the best per-request rate seen adds a
//   slot, so the limit doubles each round of requests while the link still has room. Requests that
//   slow down together (each below `contentionRatio` of the best) share a bottleneck: the ramp ends,
//   and the limit is set to what fills it (in flight × their share of the best rate, plus one to
//   cover the gap between one request's end and the next one's first byte). On a long link the
//   right number is bandwidth × delay; this reaches it in a few rounds instead of one slot a second.
// - Steady (AIMD on goodput per window): one more slot while goodput keeps rising; a backoff on an
//   error, a timeout or falling goodput; a slot that brought nothing is given back; steady windows
//   probe again.
// A ceiling on the bytes in flight (`capInFlight`) keeps the limit within the client's memory.
// Pure: time is passed in. Generic over what is transferred, so uploads and downloads share it.
import type { Failure } from './retry.js';

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
  /**
   * A request moving at less than this share of the best per-request rate seen is slowed by the
   * others: the ramp ends. Below 1 by a margin for noise (requests vary by 10–20% on their own).
   */
  contentionRatio: number;
  /** Requests smaller than this tell little about the rate (headers and round trips dominate). */
  minSampleBytes: number;
  /** What an error or a fall in goodput keeps of the limit (a network cut is not always congestion). */
  backoff: number;
}

export const DefaultConcurrency: Readonly<ConcurrencyOptions> = Object.freeze({
  mode: 'auto',
  initial: 2,
  min: 1,
  max: 32,
  windowMs: 1000,
  increaseThreshold: 0.05,
  decreaseThreshold: 0.15,
  probeAfterWindows: 4,
  contentionRatio: 0.75,
  minSampleBytes: 256 * 1024,
  backoff: 0.7,
});

/**
 * Where the ramp starts on a long link (see onLongLink). From 8, a link that needs 20 connections
 * (the WAN bench's far profile) spent two rounds of about a second each getting there:
 * `npx tsx bench/tools/link-ramp.ts --profile far --dir down --total 1024 --request 8 --start 8`
 * against `--start 16`, 6.90 s against 6.06 s. More than a link needs costs nothing but memory
 * within the ceiling: the ramp's first contended round brings the limit down to what fills it.
 */
const longLinkStart = 16;
/** A round trip this long or longer is a long link's (see firstRequests). */
const longLinkRoundTripMs = 10;

/** What the requests in flight may hold at most, by default (with 8 MiB chunks: 32 requests). */
export const DefaultMaxInFlightBytes = 256 * 1024 * 1024;

/** Why the limit last changed; for logs and tests. */
export type ConcurrencyChange =
  /** Ramp: a request moved at close to the best rate seen, so the link has room: one more slot. */
  | 'ramp'
  /** Ramp over: requests slowed each other down; the limit is what fills the bottleneck. */
  | 'ramp-end'
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

/**
 * Whether a failed request says the server or the path is overloaded, so fewer requests should be in
 * flight: not a chunk another request is writing, nor a finished upload, nor a connection that broke
 * mid-request. A break is the path losing one connection (a reset on a long, lossy link, a NAT or
 * Wi-Fi hiccup), which fewer connections would not prevent; an outage shows as refusals and timeouts,
 * and an overloaded server answers 429, 503 or 507.
 */
export function signalsLoad(failure: Pick<Failure, 'kind' | 'broken'>): boolean {
  if (failure.kind === 'busy' || failure.kind === 'completed' || failure.kind === 'aborted') return false;
  return !(failure.kind === 'unreachable' && failure.broken);
}

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
  /** Slow start until requests slow each other down (or an error, or the ceiling). */
  private ramping = true;
  /** Per-request rate samples seen (bytes/ms); the ramp judges only once there is one. */
  private samples = 0;
  private bestRate = 0;
  /** The largest request reported with its duration: samples are of requests at least half its size. */
  private largestRequest = 0;
  /** Recent per-request rate (bytes/ms, moving average), null before the first sample. */
  private recentRate: number | null = null;
  /** Consecutive samples below contentionRatio × bestRate. */
  private contended = 0;
  private ceiling: number;

  constructor(options: Partial<ConcurrencyOptions> = {}) {
    this.opts = { ...DefaultConcurrency, ...options };
    const { mode, min, max } = this.opts;
    if (!(min >= 1 && max >= min)) throw new RangeError(`concurrency bounds [${min}, ${max}] are invalid`);
    if (mode !== 'auto' && !(Number.isInteger(mode) && mode >= 1)) {
      throw new RangeError(`concurrency must be 'auto' or a positive integer; got ${mode}`);
    }
    this.ceiling = max;
    this.current = mode === 'auto' ? clamp(this.opts.initial, min, max) : mode;
  }

  /** The most the limit may reach: `max`, lowered so that limit × bytesPerRequest stays within budgetBytes. */
  capInFlight(bytesPerRequest: number, budgetBytes: number = DefaultMaxInFlightBytes): void {
    if (!(bytesPerRequest > 0)) return;
    this.ceiling = clamp(Math.floor(budgetBytes / bytesPerRequest), this.opts.min, this.opts.max);
    if (this.adaptive) this.current = Math.min(this.current, this.ceiling);
  }

  /**
   * The first requests took long: a long link, where each connection moves a fraction of what the
   * link can (its window over the round trip). The ramp starts from `longLinkStart` instead: a
   * round of requests lasts a round trip or more there, and a 256 MiB transfer is only a few rounds.
   */
  onLongLink(): void {
    if (!this.adaptive || !this.ramping) return;
    this.current = Math.max(this.current, Math.min(this.ceiling, longLinkStart));
  }

  /**
   * The transfer's first requests took `ms` for `roundTrips` round trips (a new connection counts
   * one): 10 ms or more each is a long link, not loopback or a LAN; then onLongLink(). Returns
   * whether it is one.
   */
  firstRequests(ms: number, roundTrips: number): boolean {
    const long = ms >= longLinkRoundTripMs * roundTrips;
    if (long) this.onLongLink();
    return long;
  }

  /** How fast one request moves lately (bytes/ms), null until a request of a useful size said so. */
  get requestRate(): number | null {
    return this.recentRate;
  }

  /** Whether the limit is still ramping (slow start). */
  get inRamp(): boolean {
    return this.adaptive && this.ramping;
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

  /**
   * A known goodput (e.g. the sequential first chunk) to compare the first window against; a single
   * request's rate, so also the first uncontended per-request rate.
   */
  seed(bytes: number, durationMs: number): void {
    if (!this.adaptive || !(durationMs > 0)) return;
    this.baseline = bytes / durationMs;
    if (bytes >= this.opts.minSampleBytes) this.bestRate = Math.max(this.bestRate, bytes / durationMs);
  }

  /**
   * A request completed and moved `bytes` of useful data; `durationMs`, when known, is how long that
   * request took from its start (its per-request rate drives the ramp).
   */
  onSuccess(bytes: number, now: number, durationMs?: number): void {
    // Rates are compared between requests of about the same size: with a long round trip a smaller
    // request (a file's last chunk, a part of a piece) moves slower though nothing slowed it down.
    if (durationMs !== undefined && bytes >= this.opts.minSampleBytes) this.largestRequest = Math.max(this.largestRequest, bytes);
    const comparable = durationMs !== undefined && bytes >= this.opts.minSampleBytes && bytes * 2 >= this.largestRequest && durationMs > 0;
    const rate = comparable ? bytes / durationMs : null;
    if (rate !== null) this.recentRate = this.recentRate === null ? rate : 0.7 * this.recentRate + 0.3 * rate;
    if (!this.adaptive) return;
    if (rate !== null && this.sample(rate, now)) return;
    if (this.windowStart === null) this.windowStart = now;
    this.windowBytes += bytes;
    this.windowCount++;
    const elapsed = now - this.windowStart;
    if (elapsed < this.opts.windowMs || this.windowCount < this.current) return;
    this.closeWindow(this.windowBytes / Math.max(elapsed, 1), now);
  }

  /** A request failed or timed out: back off, at most once per window (failures come in bursts). */
  onFailure(now: number, failure: Pick<Failure, 'kind' | 'broken'>): void {
    // The ramp goes on: a cut connection is not a full link (the requests' rates tell that).
    if (!this.adaptive || !signalsLoad(failure) || this.lastErrorWindow === this.windowId) return;
    this.decrease('decrease-error', now);
    // Requests already in flight may fail too; they say nothing about the new limit.
    this.lastErrorWindow = this.windowId;
  }

  /** Judges one request's rate while ramping; true when it ended the ramp (a new window begins). */
  private sample(rate: number, now: number): boolean {
    this.samples++;
    this.bestRate = Math.max(this.bestRate, rate);
    if (!this.ramping) return false;
    const share = rate / this.bestRate;
    if (share >= this.opts.contentionRatio) {
      this.contended = 0;
      if (this.current >= this.ceiling) {
        this.ramping = false;
        this.lastChange = 'hold';
        return false;
      }
      this.current++;
      this.lastChange = 'ramp';
      return false;
    }
    // One slow request may be noise; two in a row mean the requests share a bottleneck.
    if (++this.contended < 2) return false;
    this.ramping = false;
    // The bottleneck carries about current × share × best: that many uncontended requests fill it,
    // one more covers each request's gap between its last byte and the next request's first.
    this.current = clamp(Math.ceil(this.current * share) + 1, this.opts.min, this.ceiling);
    this.lastChange = 'ramp-end';
    this.probing = false;
    this.steadyWindows = 0;
    // Goodput is judged from here on, by windows run wholly at the new limit.
    this.baseline = null;
    this.startWindow(now);
    return true;
  }

  private closeWindow(goodput: number, now: number): void {
    const base = this.baseline;
    this.startWindow(now);
    if (this.ramping && this.samples > 0) {
      // The ramp decides while it lasts; windows only keep the goodput to judge by once it ends.
      this.baseline = goodput;
      return;
    }
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
    this.probing = this.current < this.ceiling;
    this.current = Math.min(this.current + 1, this.ceiling);
    this.lastChange = this.probing ? why : 'hold';
  }

  private decrease(why: ConcurrencyChange, now: number): void {
    this.current = Math.max(this.opts.min, Math.floor(this.current * this.opts.backoff));
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
