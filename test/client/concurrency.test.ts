// The adaptive concurrency controller: AIMD on goodput, probing, error back-off, fixed mode, bounds.
import { describe, expect, it } from 'vitest';
import { ConcurrencyController } from '../../src/client/engine/concurrency.js';

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

  it('halves when goodput falls by more than the threshold', () => {
    const c = new ConcurrencyController({ initial: 8 });
    c.seed(8000, 1);
    let t = run(c, 1, () => 8000).t; // flat: hold at 8
    expect(c.limit).toBe(8);
    t = feedWindow(c, t, () => 5000); // -37%
    expect(c.lastDecision).toBe('decrease-goodput');
    expect(c.limit).toBe(4);
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
    // A fall outside a probe still halves (the previous test), and so does an error.
    c.onFailure(t + 2000);
    expect(c.limit).toBe(2);
  });

  it('halves on an error, at most once per window, down to 1', () => {
    const c = new ConcurrencyController({ initial: 16 });
    c.onFailure(0);
    expect(c.limit).toBe(8);
    expect(c.lastDecision).toBe('decrease-error');
    // The rest of a burst (requests already in flight) does not halve again.
    c.onFailure(1);
    c.onFailure(2);
    expect(c.limit).toBe(8);
    // After a window at the new limit, another error halves again.
    let t = feedWindow(c, 10, () => 1000);
    c.onFailure(t);
    expect(c.limit).toBe(4);
    for (let i = 0; i < 5; i++) {
      t = feedWindow(c, t, () => 1000);
      c.onFailure(t);
    }
    expect(c.limit).toBe(1);
  });

  it('after a decrease, measures a new baseline before judging goodput again', () => {
    const c = new ConcurrencyController({ initial: 8 });
    c.seed(8000, 1);
    c.onFailure(0);
    expect(c.limit).toBe(4);
    // Lower goodput at the lower limit is the new normal, not a fall.
    feedWindow(c, 0, () => 4000);
    expect(c.lastDecision).toBe('baseline');
    expect(c.limit).toBe(5);
  });

  it('never goes above max or below min', () => {
    const c = new ConcurrencyController({ max: 16 });
    const { limits } = run(c, 40, (n) => n * 1000); // every slot helps forever
    expect(Math.max(...limits)).toBe(16);
    expect(limits.at(-1)).toBe(16);
    const small = new ConcurrencyController({ min: 2, max: 3 });
    for (let i = 0; i < 10; i++) small.onFailure(i * 10_000), feedWindow(small, i * 10_000 + 1, () => 1);
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

describe('ConcurrencyController (fixed)', () => {
  it('keeps a fixed limit whatever happens', () => {
    const c = new ConcurrencyController({ mode: 3 });
    run(c, 10, (n) => n * 1000);
    c.onFailure(0);
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
