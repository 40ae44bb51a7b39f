// The response-buffer budget: never more memory than the budget, a borrower waits (allocating
// nothing) when it is lent out, smaller buffers when it is tight, and everything comes back.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BufferBudget } from '../../src/server/limits/buffer-budget.js';
import { PieceSizer } from '../../src/server/limits/piece-size.js';

const KiB = 1024;

/** Whether `promise` has settled once everything already queued has run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((r) => setImmediate(r));
  return done;
}

describe('BufferBudget', () => {
  it('lends buffers of the size asked for, rounded up to a power of two within its bounds', async () => {
    const budget = new BufferBudget({ budget: 4096 * KiB, minBytes: 16 * KiB, maxBytes: 1024 * KiB });
    expect((await budget.borrow(1)).length).toBe(16 * KiB);
    expect((await budget.borrow(100 * KiB)).length).toBe(128 * KiB);
    expect((await budget.borrow(5000 * KiB)).length).toBe(1024 * KiB);
  });

  it('makes a borrower wait, allocating nothing, when the budget is lent out; a returned buffer goes to it', async () => {
    const budget = new BufferBudget({ budget: 64 * KiB, minBytes: 16 * KiB, maxBytes: 64 * KiB });
    const first = await budget.borrow(64 * KiB);
    expect(budget.stats()).toMatchObject({ lent: 64 * KiB, allocations: 1 });

    const waiting = budget.borrow(16 * KiB);
    expect(await settled(waiting)).toBe(false);
    expect(budget.stats()).toMatchObject({ lent: 64 * KiB, waiting: 1, waits: 1, allocations: 1 });

    budget.giveBack(first);
    const second = await waiting;
    // The very memory given back (the front of it), not a new allocation.
    expect(second.buffer).toBe(first.buffer);
    expect(second.length).toBe(16 * KiB);
    expect(budget.stats()).toMatchObject({ lent: 64 * KiB, waiting: 0, allocations: 1 });
    budget.giveBack(second);
    expect(budget.stats().lent).toBe(0);
  });

  it('lends a smaller buffer when the budget is tight rather than making the borrower wait', async () => {
    const budget = new BufferBudget({ budget: 96 * KiB, minBytes: 16 * KiB, maxBytes: 64 * KiB });
    await budget.borrow(64 * KiB);
    expect((await budget.borrow(64 * KiB)).length).toBe(32 * KiB);
    expect(budget.stats().lent).toBe(96 * KiB);
  });

  it('serves waiters in turn, and forgets one whose signal aborts', async () => {
    const budget = new BufferBudget({ budget: 32 * KiB, minBytes: 16 * KiB, maxBytes: 16 * KiB });
    const held = [await budget.borrow(1), await budget.borrow(1)];
    const quitter = new AbortController();
    const a = budget.borrow(1, quitter.signal);
    const b = budget.borrow(1);
    quitter.abort(new Error('client left'));
    await expect(a).rejects.toThrow('client left');
    expect(budget.stats().waiting).toBe(1);
    budget.giveBack(held[0]!);
    expect(await b).toBe(held[0]);
    // An already aborted signal never waits.
    await expect(budget.borrow(1, AbortSignal.abort(new Error('gone')))).rejects.toThrow('gone');
  });

  it('keeps only a few returned buffers once the borrowers have gone', async () => {
    const budget = new BufferBudget({ budget: 1024 * KiB, minBytes: 16 * KiB, maxBytes: 64 * KiB, keepBytes: 128 * KiB });
    const lent = await Promise.all(Array.from({ length: 16 }, () => budget.borrow(64 * KiB)));
    expect(budget.stats().lent).toBe(1024 * KiB);
    for (const b of lent) budget.giveBack(b);
    expect(budget.stats()).toMatchObject({ lent: 0, lentBuffers: 0, kept: 128 * KiB, waiting: 0 });
  });

  it('never holds more than its budget, whatever the borrowers do, and gets every buffer back', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }).map((n) => n * 16 * KiB),
        fc.array(fc.record({ want: fc.integer({ min: 1, max: 256 * KiB }), giveBackAfter: fc.nat(5), abort: fc.boolean() }), { maxLength: 40 }),
        async (total, ops) => {
          const budget = new BufferBudget({ budget: total, minBytes: 16 * KiB, maxBytes: 64 * KiB, keepBytes: 32 * KiB });
          // The memory each borrower holds: no two ever hold the same.
          const out = new Set<ArrayBufferLike>();
          const check = () => {
            const s = budget.stats();
            expect(s.lent + s.kept).toBeLessThanOrEqual(total);
            expect([...out].reduce((n, b) => n + b.byteLength, 0)).toBeLessThanOrEqual(s.lent);
          };
          const borrowers = ops.map(async (op) => {
            const controller = new AbortController();
            const pending = budget.borrow(op.want, controller.signal);
            if (op.abort) controller.abort(new Error('left'));
            const buffer = await pending.catch(() => null);
            if (!buffer) return;
            expect(out.has(buffer.buffer)).toBe(false);
            out.add(buffer.buffer);
            check();
            for (let i = 0; i < op.giveBackAfter; i++) await new Promise((r) => setImmediate(r));
            out.delete(buffer.buffer);
            budget.giveBack(buffer);
            check();
          });
          await Promise.all(borrowers);
          expect(budget.stats()).toMatchObject({ lent: 0, lentBuffers: 0, waiting: 0 });
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('PieceSizer', () => {
  it('starts at the largest piece, shrinks for a client that does not keep up and grows back for one that does', () => {
    const sizer = new PieceSizer(16 * KiB, 1024 * KiB);
    expect(sizer.size).toBe(1024 * KiB);
    sizer.took(1024 * KiB, 60_000);
    expect(sizer.size).toBe(16 * KiB);
    // Taken at once: double, up to the largest.
    for (let i = 0; i < 10; i++) sizer.took(sizer.size, 0);
    expect(sizer.size).toBe(1024 * KiB);
    // 64 KiB in 60 s (about 1 KiB/s): the smallest piece.
    sizer.took(64 * KiB, 60_000);
    expect(sizer.size).toBe(16 * KiB);
    // About 1 MB/s: a quarter of a second's worth.
    sizer.took(16 * KiB, 16);
    expect(sizer.size).toBe(32 * KiB);
  });
});
