// Sizes a file response's pieces from how fast its client takes them: big for fast readers, small for slow.
import { KiB } from '../../protocol/index.js';

/** A piece should be what the client takes in about this long: a slow reader pins little memory. */
const targetMs = 250;

export class PieceSizer {
  /** The size to borrow for the next piece. */
  size: number;

  constructor(
    private readonly min: number,
    private readonly max: number,
    /**
     * Unknown speed: start at the largest piece (the caller's fair share of the budget still bounds it)
     * and shrink for a client that turns out slow. Starting at 64 KiB and doubling cost a parallel
     * 1 GiB download ~0.7 CPU-s more and ~20 % more time (8 MiB ranges spent their first pieces
     * small): `node --import tsx bench/run.ts --sections download --rounds 3 --only ferry-download,curl-ferry`.
     */
    start = 1024 * KiB,
  ) {
    this.size = clamp(start, min, max);
  }

  /** The socket took `bytes` in `ms` (from write to its callback). */
  took(bytes: number, ms: number): void {
    const fits = floorPow2((bytes / Math.max(ms, 1)) * targetMs);
    this.size = clamp(Math.min(fits, this.size * 2), this.min, this.max);
  }
}

function clamp(n: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, n));
}

function floorPow2(n: number): number {
  return 2 ** Math.floor(Math.log2(Math.max(1, n)));
}
