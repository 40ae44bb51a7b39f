// A fixed budget of memory for file responses: each piece is read into a buffer lent from here, and
// a response waits for one when the budget is lent out instead of allocating.
import { KiB, MiB } from '../../protocol/index.js';
import type { BufferLender } from '../../stores/types.js';

export interface BufferBudgetOptions {
  /** Bytes of buffers that may exist at once, lent or kept for reuse. */
  budget: number;
  /** Smallest buffer (what a slow reader gets, and what a tight budget falls back to). */
  minBytes?: number;
  /** Largest buffer (what a fast reader gets). */
  maxBytes?: number;
  /**
   * Bytes of returned buffers kept for the next response. The rest are dropped at once, so once the
   * readers have gone the server's memory falls back towards idle rather than staying at the peak.
   */
  keepBytes?: number;
}

export interface BufferBudgetStats {
  budget: number;
  /** Bytes in buffers out on loan now. */
  lent: number;
  /** Buffers out on loan now. */
  lentBuffers: number;
  /** Bytes in returned buffers kept for reuse. */
  kept: number;
  /** Borrowers waiting for room. */
  waiting: number;
  /** Borrows that had to wait, since the start. */
  waits: number;
  /** Buffers allocated, since the start. */
  allocations: number;
}

interface Waiter {
  size: number;
  resolve: (buffer: Buffer) => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

export class BufferBudget {
  readonly budget: number;
  readonly minBytes: number;
  readonly maxBytes: number;
  readonly #keepBytes: number;
  /** Returned buffers by size; sizes are powers of two from minBytes to maxBytes. */
  readonly #kept = new Map<number, Buffer[]>();
  readonly #waiters: Waiter[] = [];
  #lent = 0;
  #lentBuffers = 0;
  #keptBytes = 0;
  #waits = 0;
  #allocations = 0;

  constructor(options: BufferBudgetOptions) {
    this.minBytes = options.minBytes ?? 16 * KiB;
    this.maxBytes = Math.min(options.maxBytes ?? 1 * MiB, floorPow2(options.budget));
    if (!(this.minBytes > 0 && isPow2(this.minBytes) && this.maxBytes >= this.minBytes)) {
      throw new RangeError(`A response-buffer budget of ${options.budget} bytes cannot lend ${this.minBytes}-byte buffers.`);
    }
    this.budget = options.budget;
    this.#keepBytes = Math.min(options.keepBytes ?? 8 * MiB, options.budget);
  }

  /**
   * A buffer of about `want` bytes (rounded up to a power of two, within the bounds; smaller when the
   * budget is tight). Waits, in turn, while not even the smallest fits; rejects if `signal` aborts first.
   */
  borrow(want: number, signal?: AbortSignal): Promise<Buffer> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const size = this.#sizeFor(want);
    // Those already waiting go first, or a stream of small borrows could starve them.
    const buffer = this.#waiters.length === 0 ? this.#take(size) : null;
    if (buffer) return Promise.resolve(buffer);
    this.#waits++;
    return new Promise<Buffer>((resolve, reject) => {
      const waiter: Waiter = {
        size,
        resolve,
        reject,
        signal,
        onAbort: () => {
          const at = this.#waiters.indexOf(waiter);
          if (at >= 0) this.#waiters.splice(at, 1);
          reject(signal!.reason);
          // Its place at the head may have been what kept the others waiting.
          this.#serveWaiters();
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Takes back a buffer borrow() lent, once nothing uses its memory any more. */
  giveBack(buffer: Buffer): void {
    const whole = wholeOf(buffer);
    this.#lent -= whole.length;
    this.#lentBuffers--;
    this.#keep(whole);
    this.#serveWaiters();
    // Keep only a few for reuse: what is dropped is freed by the next garbage collection.
    if (this.#keptBytes <= this.#keepBytes) return;
    for (const size of [...this.#kept.keys()].sort((a, b) => b - a)) {
      const list = this.#kept.get(size)!;
      while (this.#keptBytes > this.#keepBytes && list.length > 0) {
        list.pop();
        this.#keptBytes -= size;
      }
    }
  }

  stats(): BufferBudgetStats {
    return { budget: this.budget, lent: this.#lent, lentBuffers: this.#lentBuffers, kept: this.#keptBytes, waiting: this.#waiters.length, waits: this.#waits, allocations: this.#allocations };
  }

  #sizeFor(want: number): number {
    let size = this.minBytes;
    while (size < want && size < this.maxBytes) size *= 2;
    return size;
  }

  /** A kept or new buffer of `size`, or of the largest smaller size that fits; null if none does. */
  #take(size: number): Buffer | null {
    for (let s = size; s >= this.minBytes; s /= 2) {
      const kept = this.#takeKept(s, s);
      if (kept) return this.#lend(kept);
      if (this.#lent + this.#keptBytes + s <= this.budget) return this.#lend(this.#allocate(s));
      if (this.#lent + s <= this.budget) {
        // The room is held by kept buffers of other sizes: lend the front of a bigger one (counted
        // whole) rather than drop it and allocate; failing that, drop smaller ones to make room.
        const bigger = this.#takeKept(s * 2, this.maxBytes);
        if (bigger) return this.#lend(bigger).subarray(0, s);
        this.#dropKept(this.#lent + this.#keptBytes + s - this.budget);
        return this.#lend(this.#allocate(s));
      }
    }
    return null;
  }

  #allocate(size: number): Buffer {
    this.#allocations++;
    // Outside node's shared allocation pool: these live long and are reused whole.
    return Buffer.allocUnsafeSlow(size);
  }

  #lend(buffer: Buffer): Buffer {
    this.#lent += buffer.length;
    this.#lentBuffers++;
    return buffer;
  }

  /** The smallest kept buffer of a size from `from` to `to`, taken off its list. */
  #takeKept(from: number, to: number): Buffer | null {
    for (let s = from; s <= to; s *= 2) {
      const buffer = this.#kept.get(s)?.pop();
      if (buffer) {
        this.#keptBytes -= s;
        return buffer;
      }
    }
    return null;
  }

  #keep(buffer: Buffer): void {
    const list = this.#kept.get(buffer.length);
    if (list) list.push(buffer);
    else this.#kept.set(buffer.length, [buffer]);
    this.#keptBytes += buffer.length;
  }

  #dropKept(bytes: number): void {
    for (const [size, list] of this.#kept) {
      while (bytes > 0 && list.length > 0) {
        list.pop();
        this.#keptBytes -= size;
        bytes -= size;
      }
    }
  }

  #serveWaiters(): void {
    while (this.#waiters.length > 0) {
      const waiter = this.#waiters[0]!;
      const buffer = this.#take(waiter.size);
      if (!buffer) return;
      this.#waiters.shift();
      waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.resolve(buffer);
    }
  }
}

function isPow2(n: number): boolean {
  return Number.isInteger(Math.log2(n));
}

function floorPow2(n: number): number {
  return 2 ** Math.floor(Math.log2(Math.max(1, n)));
}

/** The whole buffer a lent one is (or is the front of): each was allocated with its own memory. */
function wholeOf(buffer: Buffer): Buffer {
  return buffer.length === buffer.buffer.byteLength ? buffer : Buffer.from(buffer.buffer, 0, buffer.buffer.byteLength);
}
