// The two-stage pipeline: in-flight limit, read-ahead bound, changing limits, pause, failure.
import { describe, expect, it } from 'vitest';
import { PauseGate } from '../../src/client/engine/pause-gate.js';
import { runPipeline } from '../../src/client/engine/scheduler.js';

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

/** Records how many items are held (prepared, not yet executed to completion) and executing. */
function probe() {
  const s = { held: 0, maxHeld: 0, executing: 0, maxExecuting: 0, order: [] as number[] };
  return {
    s,
    prepare: async (i: number) => {
      s.held++;
      s.maxHeld = Math.max(s.maxHeld, s.held);
      await tick();
      return i;
    },
    execute: async (i: number) => {
      s.executing++;
      s.maxExecuting = Math.max(s.maxExecuting, s.executing);
      await tick(2);
      s.order.push(i);
      s.executing--;
      s.held--;
    },
  };
}

describe('runPipeline', () => {
  it('runs every item, never more than `limit` at once, holding at most limit + readAhead', async () => {
    const p = probe();
    await runPipeline({ items: Array.from({ length: 30 }, (_, i) => i), prepare: p.prepare, execute: p.execute, limit: () => 3, readAhead: 2 });
    expect(p.s.order.sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(p.s.maxExecuting).toBe(3);
    expect(p.s.maxHeld).toBeLessThanOrEqual(5);
  });

  it('limit 1 is strictly sequential', async () => {
    const p = probe();
    await runPipeline({ items: [0, 1, 2, 3, 4], prepare: p.prepare, execute: p.execute, limit: () => 1, readAhead: 1 });
    expect(p.s.maxExecuting).toBe(1);
    expect(p.s.order).toEqual([0, 1, 2, 3, 4]);
  });

  it('follows a limit that changes while it runs', async () => {
    const p = probe();
    let limit = 1;
    const seen: number[] = [];
    await runPipeline({
      items: Array.from({ length: 40 }, (_, i) => i),
      prepare: p.prepare,
      execute: async (i) => {
        if (i === 10) limit = 6;
        seen.push(p.s.executing + 1);
        await p.execute(i);
      },
      limit: () => limit,
      readAhead: 2,
    });
    expect(Math.max(...seen.slice(0, 10))).toBe(1);
    expect(p.s.maxExecuting).toBe(6);
  });

  it('skips items whose prepare returns null', async () => {
    const done: number[] = [];
    await runPipeline({
      items: [0, 1, 2, 3],
      prepare: async (i) => (i % 2 === 0 ? null : i),
      execute: async (i) => void done.push(i),
      limit: () => 2,
      readAhead: 1,
    });
    expect(done.sort()).toEqual([1, 3]);
  });

  it('starts nothing new while paused and continues on resume', async () => {
    const gate = new PauseGate();
    const started: number[] = [];
    const run = runPipeline({
      items: [0, 1, 2, 3, 4, 5],
      prepare: async (i) => i,
      execute: async (i) => {
        started.push(i);
        if (i === 1) gate.pause();
        await tick(5);
      },
      limit: () => 2,
      readAhead: 0,
      gate,
    });
    await tick(40);
    expect(started).toEqual([0, 1]);
    gate.resume();
    await run;
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('on a failure aborts the rest and rejects once work in flight settled', async () => {
    let settledAfterReject = false;
    let rejected = false;
    const run = runPipeline({
      items: [0, 1, 2, 3, 4, 5, 6, 7],
      prepare: async (i) => i,
      execute: async (i, signal) => {
        if (i === 2) throw new Error('boom');
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 20);
          signal.addEventListener('abort', () => {
            clearTimeout(t);
            setTimeout(() => {
              settledAfterReject = rejected;
              resolve();
            }, 5);
          });
        });
      },
      limit: () => 3,
      readAhead: 1,
    });
    await expect(run.catch((e) => ((rejected = true), Promise.reject(e)))).rejects.toThrow('boom');
    expect(settledAfterReject).toBe(false);
  });

  it('rejects with the reason when the signal aborts', async () => {
    const ctl = new AbortController();
    const run = runPipeline({
      items: [0, 1, 2],
      prepare: async (i) => i,
      execute: (_i, signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      limit: () => 2,
      readAhead: 0,
      signal: ctl.signal,
    });
    await tick(5);
    ctl.abort(new Error('stop'));
    await expect(run).rejects.toThrow('stop');
  });

  it('finishes at once with no items', async () => {
    await runPipeline({ items: [], prepare: async () => 1, execute: async () => {}, limit: () => 2, readAhead: 2 });
  });
});

describe('runPipeline: signals', () => {
  it('gives each item a signal of its own, so 30 in flight add no more than one listener to any signal (no MaxListenersExceededWarning)', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      let started = 0;
      let releaseAll!: () => void;
      const allStarted = new Promise<void>((resolve) => (releaseAll = resolve));
      const outer = new AbortController();
      const signals = new Set<AbortSignal>();
      const done = runPipeline({
        items: Array.from({ length: 30 }, (_, i) => i),
        prepare: async (i) => i,
        // Each item listens to its signal twice, as a request and a retry sleep do.
        execute: (_i, signal) =>
          new Promise<void>((resolve, reject) => {
            signals.add(signal);
            signal.addEventListener('abort', () => reject(signal.reason), { once: true });
            signal.addEventListener('abort', () => {}, { once: true });
            if (++started === 30) releaseAll();
            void allStarted.then(resolve);
          }),
        limit: () => 30,
        readAhead: 0,
        signal: outer.signal,
      });
      await done;
      expect(signals.size).toBe(30);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('an abort still reaches every item in flight through its own signal', async () => {
    const stopped = new AbortController();
    let started = 0;
    let rejected = 0;
    const run = runPipeline({
      items: Array.from({ length: 12 }, (_, i) => i),
      prepare: async (i) => i,
      execute: (_i, signal) =>
        new Promise<void>((_resolve, reject) => {
          signal.addEventListener('abort', () => (rejected++, reject(signal.reason)), { once: true });
          if (++started === 12) stopped.abort(new Error('stop'));
        }),
      limit: () => 12,
      readAhead: 0,
      signal: stopped.signal,
    });
    await expect(run).rejects.toThrow('stop');
    expect(rejected).toBe(12);
  });
});
