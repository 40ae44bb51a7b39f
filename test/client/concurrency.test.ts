// The adaptive concurrency controller: the ramp on per-request rates (slow start against a modelled
// link), AIMD on goodput, probing, error back-off, the memory ceiling, fixed mode, bounds.
import { describe, expect, it } from 'vitest';
import { ConcurrencyController, signalsLoad } from '../../src/client/engine/concurrency.js';
import { classifyError } from '../../src/client/engine/retry.js';
import { NetworkError } from '../../src/client/engine/errors.js';
import { FerryError } from '../../src/protocol/index.js';

/** A failure that says the server is overloaded (a 503). */
const overloaded = classifyError(new FerryError('service-unavailable'));

/**
 * Feeds one measurement window at the controller's current limit: `limit` completions spread over
 * 1000 ms whose bytes add up to goodput(limit) bytes/ms. Returns the time the window ended.
 */
function feedWindow(c: ConcurrencyController, start: number, goodput: (limit: number) => number): number {
  const n = c.limit;
  const bytes = (goodput(n) * 1000) / n;
  for (let k = 1; k <= n; k++) c.onSuccess(bytes, start + (k * 1000) / n);
  return start + 1000;
}

function run(c: ConcurrencyController, windows: number, goodput: (limit: number) => number, t = 0): { t: number; limits: number[] } {
  c.begin(t);
  const limits: number[] = [];
  for (let w = 0; w < windows; w++) {
    t = feedWindow(c, t, goodput);
    limits.push(c.limit);
  }
  return { t, limits };
}

describe('ConcurrencyController (auto)', () => {
  it('starts at 2', () => {
    expect(new ConcurrencyController().limit).toBe(2);
  });

  it('adds a slot per window while goodput keeps rising, then settles at the knee', () => {
    const c = new ConcurrencyController();
    // Each slot adds 1000 B/ms up to 6 slots, then nothing.
    const { limits } = run(c, 30, (n) => Math.min(n, 6) * 1000);
    expect(limits.slice(0, 5)).toEqual([3, 4, 5, 6, 7]);
    // Beyond the knee the extra slot is given back; later probes try again and are undone.
    expect(Math.max(...limits)).toBe(7);
    expect(limits.slice(6).every((l) => l === 6 || l === 7)).toBe(true);
    expect(limits.filter((l) => l === 6).length).toBeGreaterThan(limits.filter((l) => l === 7).length);
  });

  it('compares the first window with a seeded sequential sample', () => {
    const c = new ConcurrencyController();
    c.seed(1000, 1); // 1000 B/ms with one request
    run(c, 1, (n) => n * 1000); // 2000 B/ms at 2: rising
    expect(c.lastDecision).toBe('increase');
    expect(c.limit).toBe(3);
  });

  it('holds while goodput is flat, probes one more slot, and gives it back when it brings nothing', () => {
    const c = new ConcurrencyController({ probeAfterWindows: 3 });
    c.seed(5000, 1);
    const { limits } = run(c, 4, () => 5000);
    expect(limits).toEqual([2, 2, 3, 2]);
    expect(c.lastDecision).toBe('undo');
  });

  it('backs off when goodput falls by more than the threshold', () => {
    const c = new ConcurrencyController({ initial: 8 });
    c.seed(8000, 1);
    let t = run(c, 1, () => 8000).t; // flat: hold at 8
    expect(c.limit).toBe(8);
    t = feedWindow(c, t, () => 5000); // -37%
    expect(c.lastDecision).toBe('decrease-goodput');
    expect(c.limit).toBe(5); // 8 × 0.7
    // A small dip (noise) does not.
    const d = new ConcurrencyController({ initial: 8 });
    d.seed(8000, 1);
    run(d, 1, () => 7400);
    expect(d.limit).toBe(8);
  });

  it('gives the probed slot back, without halving, when goodput falls in the window that probed it', () => {
    const c = new ConcurrencyController({ initial: 4 });
    let t = run(c, 1, () => 4000).t; // first window: baseline, probe a fifth slot
    expect([c.limit, c.lastDecision]).toEqual([5, 'baseline']);
    t = feedWindow(c, t, () => 2500); // -37% while probing: one slow second
    expect([c.limit, c.lastDecision]).toEqual([4, 'undo']);
    // Judged against that window from now on: the old goodput again reads as a rise.
    feedWindow(c, t, () => 4000);
    expect([c.limit, c.lastDecision]).toEqual([5, 'increase']);
    // A fall outside a probe still backs off (the previous test), and so does an error.
    c.onFailure(t + 2000, overloaded);
    expect(c.limit).toBe(3); // 5 × 0.7
  });

  it('backs off on an error (to 0.7×), at most once per window, never below min', () => {
    const c = new ConcurrencyController({ initial: 16 });
    c.onFailure(0, overloaded);
    expect(c.limit).toBe(11);
    expect(c.lastDecision).toBe('decrease-error');
    // The rest of a burst (requests already in flight) does not back off again.
    c.onFailure(1, overloaded);
    c.onFailure(2, overloaded);
    expect(c.limit).toBe(11);
    // After a window at the new limit, another error backs off again.
    // (The window's first measurement probes one more slot: 12, then the error: 8.)
    let t = feedWindow(c, 10, () => 1000);
    c.onFailure(t, overloaded);
    expect(c.limit).toBe(8);
    for (let i = 0; i < 8; i++) {
      t = feedWindow(c, t, () => 1000);
      c.onFailure(t, overloaded);
    }
    // An error every window: each window's probe and each error's backoff meet at 2, not at 1.
    expect(c.limit).toBe(2);
    const one = new ConcurrencyController({ initial: 3 });
    for (let i = 0; i < 3; i++) one.onFailure(i * 10_000, overloaded), feedWindow(one, i * 10_000 + 1, () => 1);
    expect(one.limit).toBeGreaterThanOrEqual(1);
  });

  it('after a decrease, measures a new baseline before judging goodput again', () => {
    const c = new ConcurrencyController({ initial: 8 });
    c.seed(8000, 1);
    c.onFailure(0, overloaded);
    expect(c.limit).toBe(5);
    // Lower goodput at the lower limit is the new normal, not a fall.
    feedWindow(c, 0, () => 5000);
    expect(c.lastDecision).toBe('baseline');
    expect(c.limit).toBe(6);
  });

  it('never goes above max or below min', () => {
    const c = new ConcurrencyController({ max: 16 });
    const { limits } = run(c, 40, (n) => n * 1000); // every slot helps forever
    expect(Math.max(...limits)).toBe(16);
    expect(limits.at(-1)).toBe(16);
    const small = new ConcurrencyController({ min: 2, max: 3 });
    for (let i = 0; i < 10; i++) small.onFailure(i * 10_000, overloaded), feedWindow(small, i * 10_000 + 1, () => 1);
    expect(small.limit).toBeGreaterThanOrEqual(2);
  });

  it('closes a window only after `limit` completions, so slow large requests still give a sample', () => {
    const c = new ConcurrencyController({ initial: 4 });
    c.seed(100, 1);
    c.begin(0);
    c.onSuccess(1_000_000, 5000);
    c.onSuccess(1_000_000, 6000);
    c.onSuccess(1_000_000, 7000);
    expect(c.limit).toBe(4);
    c.onSuccess(1_000_000, 8000);
    expect(c.lastDecision).toBe('increase');
  });
});

const MiB = 1024 * 1024;

/**
 * A link: each request moves at most `perRequest` bytes/ms (a connection's window over the round trip),
 * all together at most `shared` bytes/ms, shared evenly; plus `rttMs` per request. Runs `rounds`
 * rounds of `chunk`-byte requests: each round starts `limit` requests at once, and each completion is
 * reported with its duration (its limit changes are seen by the next round). Returns the limit after
 * each round and the decisions.
 */
function overLink(c: ConcurrencyController, link: { perRequest: number; shared: number; rttMs: number }, rounds: number, chunk = 8 * MiB) {
  const limits: number[] = [];
  const decisions = new Set<string>();
  let t = 0;
  c.begin(0);
  for (let r = 0; r < rounds; r++) {
    const n = c.limit;
    const rate = Math.min(link.perRequest, link.shared / n);
    const duration = chunk / rate + link.rttMs;
    t += duration;
    for (let k = 0; k < n; k++) {
      c.onSuccess(chunk, t, duration);
      decisions.add(c.lastDecision);
    }
    limits.push(c.limit);
  }
  return { limits, decisions };
}

const perMs = (mibPerSecond: number) => (mibPerSecond * MiB) / 1000;

describe('ConcurrencyController (ramp)', () => {
  it('on a 60 ms link of 20 MiB/s per connection and 120 MiB/s in all, fills it in a few rounds and stops near the knee (6)', () => {
    const c = new ConcurrencyController({ initial: 4 });
    const { limits, decisions } = overLink(c, { perRequest: perMs(20), shared: perMs(120), rttMs: 60 }, 6);
    // Round 1 (4 requests, each at its full 20 MiB/s): each adds a slot. Round 2 at 8: each gets
    // 15 MiB/s (0.75 of the best): still room by the threshold, so it ramps once more; round 3 at 16
    // gets 7.5 MiB/s each: the ramp ends at what fills the link.
    expect(limits[0]).toBe(8);
    expect(decisions.has('ramp-end')).toBe(true);
    expect(c.inRamp).toBe(false);
    const settled = limits[2]!;
    expect(settled).toBeGreaterThanOrEqual(7); // 6 fill it; one more covers the gaps
    expect(settled).toBeLessThanOrEqual(10);
  });

  it('on a 150 ms link of 10 MiB/s per connection and 200 MiB/s in all, reaches the 20 it needs within three rounds', () => {
    const c = new ConcurrencyController({ initial: 4 });
    const { limits } = overLink(c, { perRequest: perMs(10), shared: perMs(200), rttMs: 150 }, 5);
    expect(limits[0]).toBe(8);
    expect(limits[1]).toBe(16);
    expect(limits[2]).toBeGreaterThanOrEqual(20);
    expect(limits.at(-1)).toBeGreaterThanOrEqual(20);
    expect(limits.at(-1)).toBeLessThanOrEqual(32);
  });

  it('where the machine is the bottleneck (each request slows as others join, as over loopback), comes back near where it started', () => {
    const c = new ConcurrencyController({ initial: 4 });
    c.seed(8 * MiB, 8 * MiB / perMs(1000)); // one request alone: 1000 MiB/s
    // Rate per request falls as 1/n: 4 at once each get 250 MiB/s, a quarter of the best.
    const { limits, decisions } = overLink(c, { perRequest: perMs(1000), shared: perMs(1000), rttMs: 0.1 }, 3);
    expect(decisions.has('ramp')).toBe(false);
    expect(decisions.has('ramp-end')).toBe(true);
    expect(limits[0]).toBeLessThanOrEqual(4);
  });

  it('one slow request is noise; two in a row end the ramp', () => {
    const c = new ConcurrencyController({ initial: 4 });
    c.onSuccess(8 * MiB, 100, 100);
    expect([c.limit, c.lastDecision]).toEqual([5, 'ramp']);
    c.onSuccess(8 * MiB, 300, 300); // a third of the best
    expect([c.limit, c.inRamp]).toEqual([5, true]);
    c.onSuccess(8 * MiB, 400, 100);
    expect(c.limit).toBe(6);
    c.onSuccess(8 * MiB, 600, 200);
    c.onSuccess(8 * MiB, 800, 200); // half the best, twice: ceil(6 × 0.5) + 1
    expect([c.limit, c.lastDecision, c.inRamp]).toEqual([4, 'ramp-end', false]);
  });

  it('a request less than half the size of the largest is not compared (a round trip weighs more on it)', () => {
    const c = new ConcurrencyController({ initial: 4 });
    c.onSuccess(8 * MiB, 100, 100);
    expect(c.limit).toBe(5);
    // 2 MiB parts at a third of the rate, twice: no contention read into them.
    c.onSuccess(2 * MiB, 200, 75);
    c.onSuccess(2 * MiB, 300, 75);
    expect([c.limit, c.inRamp]).toEqual([5, true]);
    expect(c.requestRate).toBeCloseTo((8 * MiB) / 100);
  });

  it('requests too small to tell a rate are not samples', () => {
    const c = new ConcurrencyController({ initial: 4 });
    c.onSuccess(1000, 10, 10);
    c.onSuccess(1000, 20, 10);
    expect([c.limit, c.inRamp]).toEqual([4, true]);
  });

  it('an error backs off without ending the ramp (a cut connection is not a full link)', () => {
    const c = new ConcurrencyController({ initial: 10 });
    c.onFailure(0, overloaded);
    expect(c.limit).toBe(7);
    expect(c.inRamp).toBe(true);
    c.onSuccess(8 * MiB, 100, 100);
    expect([c.limit, c.lastDecision]).toEqual([8, 'ramp']);
  });

  it('on a long link the ramp starts from 16, within the ceiling, and only while it ramps', () => {
    const c = new ConcurrencyController({ initial: 4 });
    c.onLongLink();
    expect(c.limit).toBe(16);
    const capped = new ConcurrencyController({ initial: 4 });
    capped.capInFlight(8 * MiB, 48 * MiB);
    capped.onLongLink();
    expect(capped.limit).toBe(6);
    const fixed = new ConcurrencyController({ mode: 3 });
    fixed.onLongLink();
    expect(fixed.limit).toBe(3);
    const settled = new ConcurrencyController({ initial: 4 });
    settled.onSuccess(8 * MiB, 100, 100);
    settled.onSuccess(8 * MiB, 400, 300);
    settled.onSuccess(8 * MiB, 700, 300); // the ramp is over
    const before = settled.limit;
    settled.onLongLink();
    expect(settled.limit).toBe(before);
  });

  it('first requests of 10 ms or more per round trip mean a long link', () => {
    const c = new ConcurrencyController({ initial: 4 });
    expect(c.firstRequests(19, 2)).toBe(false);
    expect(c.limit).toBe(4);
    expect(c.firstRequests(30, 3)).toBe(true);
    expect(c.limit).toBe(16);
  });

  it('keeps limit × request size within the memory ceiling', () => {
    const c = new ConcurrencyController({ initial: 4 });
    c.capInFlight(8 * MiB, 64 * MiB);
    const { limits } = overLink(c, { perRequest: perMs(10), shared: perMs(1000), rttMs: 150 }, 4);
    expect(Math.max(...limits)).toBe(8);
    expect(c.inRamp).toBe(false);
    // The default budget: 256 MiB, 32 requests of 8 MiB; a larger chunk, fewer.
    const d = new ConcurrencyController({ initial: 4 });
    d.capInFlight(64 * MiB);
    expect(overLink(d, { perRequest: perMs(10), shared: perMs(1000), rttMs: 150 }, 4, 64 * MiB).limits.at(-1)).toBe(4);
    // A ceiling below the starting limit lowers it at once.
    const e = new ConcurrencyController({ initial: 4 });
    e.capInFlight(128 * MiB);
    expect(e.limit).toBe(2);
  });
});

describe('ConcurrencyController (fixed)', () => {
  it('keeps a fixed limit whatever happens', () => {
    const c = new ConcurrencyController({ mode: 3 });
    run(c, 10, (n) => n * 1000);
    c.onFailure(0, overloaded);
    expect(c.limit).toBe(3);
    expect(c.adaptive).toBe(false);
  });

  it('1 is strictly sequential', () => {
    const c = new ConcurrencyController({ mode: 1 });
    run(c, 10, (n) => n * 1000);
    expect(c.limit).toBe(1);
  });

  it('rejects nonsense', () => {
    expect(() => new ConcurrencyController({ mode: 0 })).toThrow(RangeError);
    expect(() => new ConcurrencyController({ mode: 2.5 })).toThrow(RangeError);
    expect(() => new ConcurrencyController({ min: 4, max: 2 })).toThrow(RangeError);
  });
});

describe('which failures back off', () => {
  it('a connection broken mid-request does not; refusals, timeouts and overload answers do', () => {
    const broken = classifyError(new NetworkError('socket hang up', { code: 'network' }));
    expect(broken).toMatchObject({ kind: 'unreachable', broken: true });
    expect(signalsLoad(broken)).toBe(false);
    expect(signalsLoad(classifyError(new NetworkError('timed out', { timeout: true })))).toBe(true);
    expect(signalsLoad(classifyError(new NetworkError('refused', { code: 'connection-refused' })))).toBe(true);
    expect(signalsLoad(overloaded)).toBe(true);
    expect(signalsLoad(classifyError(new FerryError('rate-limited')))).toBe(true);
    expect(signalsLoad(classifyError(new FerryError('chunk-in-progress')))).toBe(false);

    const c = new ConcurrencyController({ mode: 'auto', initial: 8, max: 16 });
    c.begin(0);
    c.onFailure(10, broken);
    expect(c.limit).toBe(8);
    c.onFailure(20, overloaded);
    expect(c.limit).toBeLessThan(8);
  });
});
