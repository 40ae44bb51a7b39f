// Range GETs through undici (http-dispatcher.ts: keep-alive, proxies from the environment, redirects,
// http: and https:), with a handler of our own instead of a web stream: each Buffer undici reads is
// copied once into the pooled shared blocks (http-block-pool.ts) the engine hashes in place, writes
// and gives back. Reading pauses while the engine holds too much.
import type { Dispatcher } from 'undici';
import type { RangeBody, RangeReply } from '../download/io.js';
import type { Block, BlockPool } from './http-block-pool.js';
import { sharedDispatcher } from './http-dispatcher.js';
import { responseOf, sendRequest, type BodyFlow } from './http-request.js';

/** A range GET through `dispatcher` (default: the shared one). */
export function undiciRange(dispatcher: Dispatcher | null, pool: BlockPool, url: string, headers: Record<string, string>, signal: AbortSignal): Promise<RangeReply> {
  return new Promise<RangeReply>((resolve, reject) => {
    const body = new UndiciBody(pool);
    sendRequest(dispatcher ?? sharedDispatcher(), { url, method: 'GET', headers: Object.entries(headers) }, signal, {
      head: (head, flow) => {
        body.started(flow);
        resolve({ response: responseOf(head, null), body });
      },
      data: (chunk) => body.deliver(chunk),
      end: () => body.finish(),
      fail: (error) => {
        reject(error);
        body.fail(error);
      },
    });
  });
}

/** One response's body: parts copied into blocks as undici reads them, handed to the reader in order. */
class UndiciBody implements RangeBody {
  private flow: BodyFlow | null = null;
  private done = false;
  private failed: unknown = null;
  private block: Block | null = null;
  /** Parts that arrived before read() was called. */
  private queued: Uint8Array[] = [];
  private queuedBytes = 0;
  private consumer: ((part: Uint8Array) => void) | null = null;
  private settleBody: { resolve: () => void; reject: (e: unknown) => void } | null = null;
  private readStarted = false;
  /** Bytes of this body's parts lent and not given back; reading pauses above `lentLimit`. */
  private lentBytes = 0;
  private lentLimit = Infinity;
  private heldBack = false;

  constructor(private readonly pool: BlockPool) {}

  // ---- RangeBody ----

  read(onPart: (part: Uint8Array) => void, options: { lentLimit?: number } = {}): Promise<void> {
    if (this.readStarted) return Promise.reject(new Error('The body can be read only once.'));
    this.readStarted = true;
    this.lentLimit = options.lentLimit ?? Infinity;
    return new Promise<void>((resolve, reject) => {
      this.settleBody = { resolve, reject };
      const queued = this.queued;
      this.queued = [];
      this.queuedBytes = 0;
      for (let i = 0; i < queued.length; i++) {
        try {
          onPart(queued[i]!);
        } catch (e) {
          for (const rest of queued.slice(i + 1)) this.pool.release(rest);
          // Off the wire already: only the read fails; else the request is dropped with this error.
          if (this.done || this.failed !== null) reject(e);
          else this.flow!.abort(e as Error);
          return;
        }
      }
      this.consumer = onPart;
      if (this.failed !== null) reject(this.failed);
      else if (this.done) resolve();
      else if (!this.holdBack()) this.flow!.resume();
    });
  }

  release(part: Uint8Array): void {
    this.pool.release(part);
  }

  cancel(): void {
    if (this.done || this.failed !== null) return;
    this.flow?.abort(new Error('The body was cancelled.'));
  }

  /** Parts of this body came back (BlockPool.release): reading may go on. */
  returned(bytes: number): void {
    this.lentBytes -= bytes;
    if (this.heldBack && this.lentBytes <= this.lentLimit / 2) {
      this.heldBack = false;
      if (!this.done && this.failed === null) this.flow!.resume();
    }
  }

  // ---- from the request ----

  started(flow: BodyFlow): void {
    this.flow = flow;
  }

  /** Copies `chunk` into blocks and hands the parts over (or queues them until read()). Throws what the reader threw. */
  deliver(chunk: Buffer): void {
    const size = this.pool.blockSize;
    let at = 0;
    while (at < chunk.byteLength) {
      if (this.block === null || this.block.used === size) {
        if (this.block) this.pool.unref(this.block);
        this.block = this.pool.take();
      }
      const n = Math.min(chunk.byteLength - at, size - this.block.used);
      chunk.copy(this.block.bytes, this.block.used, at, at + n);
      at += n;
      const part = this.pool.lend(this.block, n, this);
      this.lentBytes += n;
      if (this.consumer) {
        this.consumer(part);
      } else {
        this.queued.push(part);
        this.queuedBytes += n;
      }
    }
    // Nobody reads yet: stop once a block's worth waits. A reader: hold back above its limit.
    if (this.consumer === null) {
      if (this.queuedBytes >= size) this.flow!.pause();
    } else this.holdBack();
  }

  finish(): void {
    this.done = true;
    this.dropBlock();
    this.settleBody?.resolve();
  }

  fail(error: unknown): void {
    if (this.failed !== null || this.done) return;
    this.failed = error;
    this.dropBlock();
    this.settleBody?.reject(error);
    for (const part of this.queued.splice(0)) this.pool.release(part);
  }

  /** Pauses reading while too much of the body is lent; true when it did. */
  private holdBack(): boolean {
    if (this.lentBytes <= this.lentLimit) return false;
    this.heldBack = true;
    this.flow!.pause();
    return true;
  }

  private dropBlock(): void {
    if (this.block) {
      this.pool.unref(this.block);
      this.block = null;
    }
  }
}
