// The memory a download's bytes are handed over in: blocks of shared memory, lent out as parts (views)
// and reused once every part of a block has come back. Shared, so a hash on a worker thread reads the
// parts where they are (worker-hasher.ts); pooled, so a GiB downloaded is not a GiB of garbage.

/** Who is told when a part it lent comes back (a body pacing its reads). */
export interface PartOwner {
  returned(bytes: number): void;
}

export interface Block {
  bytes: Buffer;
  used: number;
  /** Parts lent and not given back, plus one while a body is filling the block. */
  refs: number;
}

export class BlockPool {
  private readonly free: Buffer[] = [];
  /** Every part lent and not yet given back: the block it lives in and the body it came with. */
  private readonly lent = new WeakMap<Uint8Array, { block: Block; owner: PartOwner }>();

  constructor(
    readonly blockSize: number,
    private readonly maxFree: number,
  ) {}

  take(): Block {
    // Not from Buffer's slab: each block owns its memory, so reusing it touches nothing else.
    return { bytes: this.free.pop() ?? Buffer.from(new SharedArrayBuffer(this.blockSize)), used: 0, refs: 1 };
  }

  /** A view of the block's next `n` bytes (already filled), lent to the caller. */
  lend(block: Block, n: number, owner: PartOwner): Uint8Array {
    const part = block.bytes.subarray(block.used, block.used + n);
    block.used += n;
    block.refs++;
    this.lent.set(part, { block, owner });
    return part;
  }

  /** A part comes back (idempotent; parts not lent by this pool are ignored). */
  release(part: Uint8Array): void {
    const entry = this.lent.get(part);
    if (!entry) return;
    this.lent.delete(part);
    this.unref(entry.block);
    entry.owner.returned(part.byteLength);
  }

  /** Drops one reference (a part given back, or the filling body done with it). */
  unref(block: Block): void {
    if (--block.refs === 0 && this.free.length < this.maxFree) this.free.push(block.bytes);
  }
}
