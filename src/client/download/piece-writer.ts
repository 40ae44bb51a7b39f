// A piece's bytes written at their offsets in the `.part` as they arrive, in batches, one write
// after another, so a piece is not held in memory until it ends.
import { KiB } from '../../protocol/index.js';
import type { PartFile } from './io.js';

/**
 * Writes are batched to this size: one system call per network read would be ~16 per MiB. Not 1 MiB:
 * on the 2-core benchmark VM, 1 GiB written in 1 MiB pwritevs took 1–2 s of system time in some runs
 * (the kernel finding room for 1 MiB page-cache folios) instead of the usual 0.35 s; in 256 KiB
 * writes it never did (`node bench/probes/page-cache-write.mjs /tmp 4 256` against `... 1024`).
 */
const writeBatch = 256 * KiB;

/**
 * Bytes written at their offsets as they arrive, about `writeBatch` at a time, one write after another.
 * `written` (when given) receives every part once its write is over (or skipped after a failure).
 */
export class PieceWriter {
  private batch: Uint8Array[] = [];
  private batched = 0;
  private tail: Promise<void> = Promise.resolve();
  private error: unknown = null;
  private failed = false;

  constructor(
    private readonly part: PartFile,
    private offset: number,
    private readonly written: ((part: Uint8Array) => void) | null,
  ) {}

  add(part: Uint8Array): void {
    this.batch.push(part);
    this.batched += part.byteLength;
    if (this.batched >= writeBatch) this.flush();
  }

  flush(): void {
    if (this.batched === 0) return;
    const { batch, offset } = this;
    this.offset += this.batched;
    this.batch = [];
    this.batched = 0;
    this.tail = this.tail.then(async () => {
      try {
        if (!this.failed) await this.part.write(offset, batch);
      } catch (e) {
        this.failed = true;
        this.error = e;
      } finally {
        if (this.written) for (const part of batch) this.written(part);
      }
    });
  }

  /**
   * Writes what is batched too and resolves once every write is over: where the written bytes end,
   * or null if a write failed (then some byte handed to the writer may not be on disk).
   */
  async drain(): Promise<number | null> {
    this.flush();
    await this.tail;
    return this.failed ? null : this.offset;
  }

  /** Resolves once every flushed batch is written or failed (errors ignored: the attempt failed anyway). */
  async settle(): Promise<void> {
    this.failed = true;
    if (this.written) for (const part of this.batch) this.written(part);
    this.batch = [];
    this.batched = 0;
    await this.tail;
  }

  /** Resolves once every flushed batch is written; throws the first write error. */
  async done(): Promise<void> {
    await this.tail;
    if (this.failed) throw this.error;
  }
}
