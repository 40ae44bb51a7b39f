// Requests per second per identity (per client address in open mode): a token bucket each, in memory.
import type { IncomingMessage } from 'node:http';
import { FerryError } from '../../protocol/index.js';
import type { Principal } from '../auth/principal.js';
import type { ServerContext } from '../context.js';
import { limitHit } from '../metrics.js';
import { rateKey } from './limit-key.js';

/** Buckets kept at most; past this the least recently used go (a forgotten bucket is a full one). */
const maxBuckets = 100_000;

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (epoch ms). */
  at: number;
}

/** Token buckets by key: `burst` tokens each, refilled at `rate` per second. */
export class TokenBuckets {
  /** In order of last use, least recent first, so idle buckets are found at the front. */
  readonly #buckets = new Map<string, Bucket>();

  constructor(
    readonly rate: number,
    readonly burst: number,
    readonly capacity = maxBuckets,
  ) {}

  /** Takes a token from `key`'s bucket at `now` (ms): 0 when taken, else the ms until one will be there. */
  take(key: string, now: number): number {
    const bucket = this.#touch(key, now);
    this.#trim(now);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - bucket.tokens) / this.rate) * 1000);
  }

  /** Buckets held now (for tests: memory stays bounded). */
  get size(): number {
    return this.#buckets.size;
  }

  #touch(key: string, now: number): Bucket {
    const bucket = this.#buckets.get(key);
    if (!bucket) {
      const fresh = { tokens: this.burst, at: now };
      this.#buckets.set(key, fresh);
      return fresh;
    }
    this.#buckets.delete(key);
    this.#buckets.set(key, bucket);
    // max(0, ...): a clock that steps back must not drain the bucket.
    bucket.tokens = Math.min(this.burst, bucket.tokens + (Math.max(0, now - bucket.at) * this.rate) / 1000);
    bucket.at = now;
    return bucket;
  }

  /** Drops refilled buckets (the same as none) from the idle end, and any beyond the capacity. */
  #trim(now: number): void {
    const refillMs = (this.burst / this.rate) * 1000;
    for (const [key, bucket] of this.#buckets) {
      if (now - bucket.at < refillMs && this.#buckets.size <= this.capacity) break;
      this.#buckets.delete(key);
    }
  }
}

const limiters = new WeakMap<ServerContext, TokenBuckets>();

/** The burst in force: --rate-burst, else two seconds' worth of requests. */
export function rateBurst(config: ServerContext['config']): number {
  return config.rateBurst ?? Math.max(1, Math.ceil(2 * config.rateLimit));
}

/**
 * Counts a request against its identity's rate; throws rate-limited (429, Retry-After) past it. Called
 * before the route reads anything of the body, which is then left unread (the connection closes).
 */
export function checkRate(ctx: ServerContext, req: IncomingMessage, who: Principal): void {
  const rate = ctx.config.rateLimit;
  if (rate === 0) return;
  let buckets = limiters.get(ctx);
  if (!buckets) limiters.set(ctx, (buckets = new TokenBuckets(rate, rateBurst(ctx.config))));
  const waitMs = buckets.take(rateKey(who, req, ctx.config.trustProxy), ctx.now());
  if (waitMs === 0) return;
  limitHit(ctx, 'rate');
  const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
  throw new FerryError('rate-limited', `Too many requests: this server allows ${rate} per second (bursts of ${buckets.burst}); retry in ${retryAfter} s.`, {
    retryAfter,
    rateLimit: rate,
    rateBurst: buckets.burst,
  });
}
