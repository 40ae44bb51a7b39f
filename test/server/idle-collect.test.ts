// After the last download of a burst, one full collection gives the readers' memory back (an idle
// server would otherwise never collect); a download starting meanwhile postpones it.
import { afterEach, expect, it, vi } from 'vitest';
import { DownloadSlots } from '../../src/server/limits/downloads.js';
import { IdleCollector } from '../../src/server/limits/idle-collect.js';

afterEach(() => {
  vi.useRealTimers();
});

it('collects once, a delay after the last download ends, and not while another runs', () => {
  vi.useFakeTimers();
  const collector = new IdleCollector(1000);
  const slots = new DownloadSlots(4, collector);
  const a = slots.take('alice')!;
  const b = slots.take('bob')!;
  a();
  vi.advanceTimersByTime(5000);
  expect(collector.runs).toBe(0); // bob is still downloading
  b();
  vi.advanceTimersByTime(900);
  const c = slots.take('carol')!; // a new burst before the delay is over
  vi.advanceTimersByTime(5000);
  expect(collector.runs).toBe(0);
  c();
  vi.advanceTimersByTime(1000);
  expect(collector.runs).toBe(1); // V8's real collection ran
  vi.advanceTimersByTime(10_000);
  expect(collector.runs).toBe(1);
});
