// A clock for tests: time moves only when told, or (instant mode) by exactly what is slept.
import type { Clock } from '../../../src/client/engine/io.js';

export class FakeClock implements Clock {
  readonly sleeps: number[] = [];
  private pending: Array<{ at: number; resolve: () => void }> = [];

  constructor(
    public time = 1_000_000,
    /** true: sleep() advances time by its duration and resolves at once. */
    private readonly instant = false,
  ) {}

  now(): number {
    return this.time;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.instant) {
      this.time += ms;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const entry = { at: this.time + ms, resolve };
      this.pending.push(entry);
      signal?.addEventListener('abort', () => {
        this.pending = this.pending.filter((p) => p !== entry);
        reject(signal.reason);
      });
    });
  }

  advance(ms: number): void {
    this.time += ms;
    const due = this.pending.filter((p) => p.at <= this.time);
    this.pending = this.pending.filter((p) => p.at > this.time);
    for (const p of due) p.resolve();
  }
}

/** A deterministic sequence for jitter. */
export function fixedRandom(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}
