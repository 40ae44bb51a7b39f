// Each server's download limits: the response-buffer budget every file response borrows from, and
// the cap on concurrent downloads per identity.
import type { ServerContext } from '../context.js';
import { BufferBudget } from './buffer-budget.js';
import { IdleCollector } from './idle-collect.js';

/** Counts open downloads per key and refuses one more than the cap. */
export class DownloadSlots {
  readonly #open = new Map<string, number>();
  #total = 0;

  constructor(
    readonly perKey: number,
    /** Told when the first download of a burst starts and when the last one ends. */
    private readonly collector: IdleCollector | null = null,
  ) {}

  /** A slot for `key` and the function that frees it (once), or null when `key` is at the cap. */
  take(key: string): (() => void) | null {
    const n = this.#open.get(key) ?? 0;
    if (n >= this.perKey) return null;
    if (this.#open.size === 0) this.collector?.busy();
    this.#open.set(key, n + 1);
    this.#total++;
    let freed = false;
    return () => {
      if (freed) return;
      freed = true;
      this.#total--;
      const left = this.#open.get(key)! - 1;
      if (left === 0) this.#open.delete(key);
      else this.#open.set(key, left);
      if (this.#open.size === 0) this.collector?.idle();
    };
  }

  /** Downloads open now, over all keys (asked for every piece a download borrows). */
  total(): number {
    return this.#total;
  }
}

export interface DownloadLimits {
  buffers: BufferBudget;
  slots: DownloadSlots;
}

// Kept beside the context rather than in it: made on first use from the context's configuration.
const limits = new WeakMap<ServerContext, DownloadLimits>();

export function downloadLimits(ctx: ServerContext): DownloadLimits {
  let found = limits.get(ctx);
  if (!found) {
    found = {
      buffers: new BufferBudget({ budget: ctx.config.responseBufferBudget }),
      slots: new DownloadSlots(ctx.config.maxDownloadsPerIdentity, new IdleCollector()),
    };
    limits.set(ctx, found);
    const { buffers } = found;
    ctx.metrics.gauge('ferry_response_buffer_bytes', () => buffers.stats().lent + buffers.stats().kept);
    ctx.metrics.gauge('ferry_response_buffers_in_use', () => buffers.stats().lentBuffers);
  }
  return found;
}
