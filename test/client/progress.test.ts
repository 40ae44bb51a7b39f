// Progress accounting: acknowledged and in-flight bytes, idempotent chunk counting, EWMA rate, ETA.
import { describe, expect, it } from 'vitest';
import { ProgressTracker } from '../../src/client/engine/progress.js';

describe('ProgressTracker', () => {
  it('counts bytes on the wire and acknowledged, each chunk once', () => {
    const p = new ProgressTracker();
    p.plan(300, 3, 0);
    p.sending(100);
    p.sending(100);
    expect(p.snapshot()).toMatchObject({ bytesInFlight: 200, bytesSent: 200, bytesAcked: 0, chunksDone: 0 });
    p.sent(100);
    expect(p.chunkDone(0, 100, 1000, true)).toBe(true);
    expect(p.chunkDone(0, 100, 1000, true)).toBe(false);
    expect(p.snapshot()).toMatchObject({ bytesInFlight: 100, bytesSent: 200, bytesAcked: 100, chunksDone: 1, totalChunks: 3 });
  });

  it('does not count chunks found on the server toward the rate', () => {
    const p = new ProgressTracker();
    p.plan(1000, 10, 0);
    for (let i = 0; i < 5; i++) p.chunkDone(i, 100, 0, false);
    expect(p.snapshot()).toMatchObject({ bytesAcked: 500, rate: null, etaSeconds: null });
  });

  it('smooths the rate and derives the ETA from it', () => {
    const p = new ProgressTracker({ rateHalfLifeMs: 1000 });
    p.plan(100_000, 100, 0);
    // 1000 bytes every 100 ms = 10,000 B/s.
    for (let i = 0; i < 50; i++) p.chunkDone(i, 1000, (i + 1) * 100, true);
    const s = p.snapshot();
    expect(s.rate).toBeCloseTo(10_000, -1);
    expect(s.etaSeconds).toBe(5);
    // The rate halves toward a new speed within about a half-life, not at once.
    for (let i = 50; i < 55; i++) p.chunkDone(i, 1000, 5000 + (i - 49) * 200, true);
    const slower = p.snapshot().rate!;
    expect(slower).toBeLessThan(10_000);
    expect(slower).toBeGreaterThan(5_000);
  });

  it('reports ETA 0 when everything is acknowledged', () => {
    const p = new ProgressTracker();
    p.plan(10, 1, 0);
    p.chunkDone(0, 10, 5, true);
    expect(p.snapshot().etaSeconds).toBe(0);
  });
});
