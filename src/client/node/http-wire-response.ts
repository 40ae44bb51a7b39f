// One response on a fast-path connection (http-wire.ts): its head parsed off the reads, its body
// framed (Content-Length, chunked or the end of the connection) and handed over as parts lent from
// pooled blocks; a Content-Length body is read straight into them, the rest copied in once.
import type { RangeBody, RangeReply } from '../download/io.js';
import type { Block, BlockPool } from './http-block-pool.js';
import { responseOf } from './http-request.js';
import { ChunkedDecoder, framingOf, HttpWireError, parseHead, type Framing } from './http-wire-format.js';

/** What a response needs of its connection. */
export interface WireConnection {
  /** Stops reading until resume(). */
  pause(): void;
  resume(): void;
  destroy(): void;
  /** The response ended; `reusable`: nothing beyond it arrived and both sides keep the connection. */
  responseDone(reusable: boolean): void;
}

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
/** A block with less room than this left is not read into any more; the next read starts a new one. */
const minDirectRead = 64 * 1024;

/** Parses one response off the reads and hands its body over as lent parts. */
export class WireResponse implements RangeBody {
  receivedAny = false;
  private headerBytes: Buffer | null = null;
  private headDone = false;
  private framing: Framing = { kind: 'close' };
  private keepAlive = false;
  private done = false;
  private failed: unknown = null;
  private block: Block | null = null;
  /** The free end of `block` the socket reads into next (directTarget), until that read lands. */
  private target: Uint8Array | null = null;
  /** Parts that arrived before read() was called. */
  private queued: Uint8Array[] = [];
  private consumer: ((part: Uint8Array) => void) | null = null;
  private settleBody: { resolve: () => void; reject: (e: unknown) => void } | null = null;
  private readStarted = false;
  /** Bytes of this body's parts lent and not given back; reading pauses above `lentLimit`. */
  private lentBytes = 0;
  private lentLimit = Infinity;
  private heldBack = false;
  private readonly chunked = new ChunkedDecoder();

  constructor(
    private readonly conn: WireConnection,
    private readonly pool: BlockPool,
    private readonly maxHeadBytes: number,
    private readonly maxRead: number,
    private readonly url: string,
    private readonly signal: AbortSignal,
    private readonly resolveHead: (reply: RangeReply) => void,
    private readonly rejectHead: (e: unknown) => void,
  ) {
    signal.addEventListener('abort', this.onAbort, { once: true });
  }

  private readonly onAbort = () => this.fail(this.signal.reason);

  // ---- RangeBody ----

  read(onPart: (part: Uint8Array) => void, options: { lentLimit?: number } = {}): Promise<void> {
    if (this.readStarted) return Promise.reject(new Error('The body can be read only once.'));
    this.readStarted = true;
    this.lentLimit = options.lentLimit ?? Infinity;
    return new Promise<void>((resolve, reject) => {
      this.settleBody = { resolve, reject };
      const queued = this.queued;
      this.queued = [];
      this.consumer = onPart;
      for (let i = 0; i < queued.length; i++) {
        if (!this.give(queued[i]!)) {
          for (const rest of queued.slice(i + 1)) this.pool.release(rest);
          return;
        }
      }
      if (this.failed !== null) reject(this.failed);
      else if (this.done) resolve();
      else if (!this.holdBack()) this.conn.resume();
    });
  }

  release(part: Uint8Array): void {
    this.pool.release(part);
  }

  /** Parts of this body came back (BlockPool.release): reading may go on. */
  returned(bytes: number): void {
    this.lentBytes -= bytes;
    if (this.heldBack && this.lentBytes <= this.lentLimit / 2) {
      this.heldBack = false;
      if (!this.done && this.failed === null) this.conn.resume();
    }
  }

  /** Pauses reading while too much of the body is lent; true when it did. */
  private holdBack(): boolean {
    if (this.lentBytes <= this.lentLimit) return false;
    this.heldBack = true;
    this.conn.pause();
    return true;
  }

  cancel(): void {
    if (this.done || this.failed !== null) return;
    this.fail(new Error('The body was cancelled.'));
  }

  // ---- the wire ----

  /**
   * Where the next read should land: the free end of this body's block, no longer than what is left
   * of a Content-Length body (so no byte of a later response can land there), or null for the
   * connection's read buffer (the head, chunked or close-delimited bodies: parsed, then copied).
   */
  directTarget(): Uint8Array | null {
    const f = this.framing;
    if (!this.headDone || this.done || this.failed !== null || f.kind !== 'length' || f.remaining === 0) return null;
    const size = this.pool.blockSize;
    if (this.block === null || size - this.block.used < Math.min(minDirectRead, this.maxRead)) {
      if (this.block) this.pool.unref(this.block);
      this.block = this.pool.take();
    }
    const block = this.block;
    this.target = block.bytes.subarray(block.used, block.used + Math.min(size - block.used, f.remaining, this.maxRead));
    return this.target;
  }

  /** `n` body bytes were read straight into the target directTarget() gave: lent as they are, no copy. */
  feedDirect(buf: Uint8Array, n: number): void {
    if (this.failed !== null || this.done) return;
    const f = this.framing;
    try {
      if (buf !== this.target || this.block === null || f.kind !== 'length' || n > f.remaining) {
        throw new Error('A read landed outside the block it was given.');
      }
      this.target = null;
      f.remaining -= n;
      if (!this.hand(this.block, n)) return;
      if (f.remaining === 0) this.finish(true);
      else this.pace();
    } catch (e) {
      this.fail(e);
    }
  }

  feed(buf: Buffer, n: number): void {
    if (this.failed !== null || this.done) return;
    this.receivedAny = true;
    try {
      let at = 0;
      if (!this.headDone) {
        at = this.parseHead(buf, n);
        if (at < 0) return;
      }
      if (at < n && !this.done) this.body(buf, at, n);
      if (!this.done && this.failed === null) this.pace();
    } catch (e) {
      this.fail(e);
    }
  }

  onClosed(error: Error | null, stale: boolean): void {
    if (this.done || this.failed !== null) return;
    if (this.headDone && this.framing.kind === 'close' && error === null) {
      this.finish(false);
      return;
    }
    const what = this.headDone ? 'the body was complete' : 'the response head arrived';
    const message = error ? `${error.message} before ${what}` : `The connection closed before ${what}.`;
    this.fail(new HttpWireError(message, stale, { cause: error ?? undefined }));
  }

  /** Fails the request (head or body), drops the connection and the partly filled block. */
  fail(e: unknown): void {
    if (this.failed !== null || this.done) return;
    this.failed = e;
    this.cleanup();
    this.conn.destroy();
    if (!this.headDone) this.rejectHead(e);
    this.settleBody?.reject(e);
    for (const part of this.queued.splice(0)) this.pool.release(part);
  }

  /** Reads the head from buf[0, n); returns where the body starts, or -1 if the head is not complete. */
  private parseHead(buf: Buffer, n: number): number {
    const prior = this.headerBytes?.length ?? 0;
    const all = prior === 0 ? buf.subarray(0, n) : Buffer.concat([this.headerBytes!, buf.subarray(0, n)]);
    const end = all.indexOf(CRLFCRLF, Math.max(0, prior - 3));
    if (end < 0) {
      if (all.length > this.maxHeadBytes) throw new HttpWireError(`The response head is longer than ${this.maxHeadBytes} bytes.`);
      // Copied: `buf` is the connection's read buffer, overwritten by the next read.
      this.headerBytes = Buffer.from(all);
      return -1;
    }
    if (end > this.maxHeadBytes) throw new HttpWireError(`The response head is longer than ${this.maxHeadBytes} bytes.`);
    this.headerBytes = null;
    const bodyAt = end + 4 - prior;
    const { status, statusText, headers, http11 } = parseHead(all.toString('latin1', 0, end));
    if (status >= 100 && status < 200) {
      if (status === 101) throw new HttpWireError('The server switched protocols (101) on a GET.');
      // 100 Continue, 103 Early Hints...: interim; the final response follows.
      if (bodyAt === n) return -1;
      const at = this.parseHead(buf.subarray(bodyAt), n - bodyAt);
      return at < 0 ? -1 : at + bodyAt;
    }
    if (status < 200 || status > 599) throw new HttpWireError(`Invalid HTTP status ${status}.`);
    this.framing = framingOf(status, headers);
    this.keepAlive = http11 && !/(?:^|,)\s*close\s*(?:,|$)/i.test(headers.get('connection') ?? '');
    this.headDone = true;
    const response = responseOf({ status, statusText, headers, url: this.url, redirected: false }, null);
    this.resolveHead({ response, body: this });
    if (this.framing.kind === 'length' && this.framing.remaining === 0) this.finish(bodyAt === n);
    return bodyAt;
  }

  /** Body bytes buf[at, end) of the framed stream. */
  private body(buf: Buffer, at: number, end: number): void {
    const f = this.framing;
    if (f.kind === 'length') {
      const take = Math.min(end - at, f.remaining);
      if (!this.deliver(buf, at, at + take)) return;
      f.remaining -= take;
      if (f.remaining === 0) this.finish(at + take === end);
      return;
    }
    if (f.kind === 'close') {
      this.deliver(buf, at, end);
      return;
    }
    this.decodeChunked(buf, at, end);
  }

  private decodeChunked(buf: Buffer, at: number, end: number): void {
    const bodyEnd = this.chunked.decode(buf, at, end, (start, stop) => this.deliver(buf, start, stop));
    if (bodyEnd >= 0) this.finish(bodyEnd === end);
  }

  /**
   * Copies buf[start, end) into blocks and hands the parts over (or queues them until read()); false
   * when the reader's callback threw (the body has then failed).
   */
  private deliver(buf: Buffer, start: number, end: number): boolean {
    const size = this.pool.blockSize;
    while (start < end) {
      if (this.block === null || this.block.used === size) {
        if (this.block) this.pool.unref(this.block);
        this.block = this.pool.take();
      }
      const n = Math.min(end - start, size - this.block.used);
      buf.copy(this.block.bytes, this.block.used, start, start + n);
      start += n;
      if (!this.hand(this.block, n)) return false;
    }
    return true;
  }

  /**
   * Lends the `n` bytes just put into `block` as a part and hands it to the reader, or queues it
   * until read(); false when the reader's callback threw (the body has then failed).
   */
  private hand(block: Block, n: number): boolean {
    const part = this.pool.lend(block, n, this);
    this.lentBytes += n;
    if (this.consumer) return this.give(part);
    this.queued.push(part);
    return true;
  }

  /** After a read: stop reading while nobody takes the queued parts, or hold back for the reader. */
  private pace(): void {
    if (this.consumer === null) {
      if (this.queuedBytes() >= this.pool.blockSize) this.conn.pause();
    } else this.holdBack();
  }

  /** Hands one part to the reader; false when its callback threw (the read then rejected with that). */
  private give(part: Uint8Array): boolean {
    try {
      this.consumer!(part);
      return true;
    } catch (e) {
      // Off the wire already (parts queued before read()): only the read fails.
      if (this.done) this.settleBody!.reject(e);
      else this.fail(e);
      return false;
    }
  }

  private queuedBytes(): number {
    let n = 0;
    for (const p of this.queued) n += p.byteLength;
    return n;
  }

  private finish(nothingBeyond: boolean): void {
    if (this.done) return;
    this.done = true;
    this.cleanup();
    this.conn.responseDone(nothingBeyond && this.keepAlive && this.framing.kind !== 'close');
    this.settleBody?.resolve();
  }

  private cleanup(): void {
    this.signal.removeEventListener('abort', this.onAbort);
    if (this.block) {
      this.pool.unref(this.block);
      this.block = null;
    }
  }
}

