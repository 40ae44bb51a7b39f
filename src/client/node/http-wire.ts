// The fast path for range GETs on plain http: (no proxy): HTTP/1.1 on keep-alive TCP connections of
// our own, read with `onread` straight into pooled shared blocks (http-block-pool.ts) that the engine
// hashes, writes and gives back; the head, chunked and close-delimited bodies are read into one buffer
// per connection, parsed and copied into the blocks. Through undici every read would be a fresh
// buffer copied twice more (into its parser, then into shared memory): about five times this path's
// CPU per GiB. Only what a range GET needs is spoken: no request body, no pipelining, no upgrades,
// no TLS, no proxy; range-transport.ts sends everything else (and every redirect) through undici.
import { connect, type Socket } from 'node:net';
import type { RangeReply } from '../download/io.js';
import type { BlockPool } from './http-block-pool.js';
import { HttpWireError, requestHead } from './http-wire-format.js';
import { WireResponse, type WireConnection } from './http-wire-response.js';

export interface WireOptions {
  /** Bytes one socket read may return. */
  readBufferSize: number;
  /** Idle connections kept per host:port. */
  maxIdlePerHost: number;
  /** Largest response head accepted. */
  maxHeadBytes: number;
}

/** Range GETs over connections of our own, kept idle per host:port between requests. */
export class WireRanges {
  private readonly idle = new Map<string, Connection[]>();

  constructor(
    readonly o: WireOptions,
    readonly pool: BlockPool,
  ) {}

  async get(url: string, headers: Record<string, string>, signal: AbortSignal): Promise<RangeReply> {
    signal.throwIfAborted();
    const target = new URL(url);
    if (target.protocol !== 'http:') throw new TypeError(`The fast path speaks http: only, not ${target.protocol}`);
    const head = requestHead(target, headers);
    const key = target.host;
    for (;;) {
      const conn = this.takeIdle(key) ?? new Connection(this, key, target);
      try {
        return await conn.request(head, url, signal);
      } catch (e) {
        // A keep-alive connection the server closed while it was idle: the GET never reached it.
        if (e instanceof HttpWireError && e.stale && !signal.aborted) continue;
        throw e;
      }
    }
  }

  /** Closes every idle connection (those in use close when their response ends). */
  close(): void {
    for (const list of this.idle.values()) for (const c of list.splice(0)) c.destroy();
    this.idle.clear();
  }

  private takeIdle(key: string): Connection | null {
    const list = this.idle.get(key);
    for (let c = list?.pop(); c; c = list!.pop()) {
      if (c.usable) return c;
    }
    return null;
  }

  /** A connection whose response ended cleanly: kept for the next request, or closed. */
  putIdle(c: Connection): void {
    let list = this.idle.get(c.key);
    if (!list) this.idle.set(c.key, (list = []));
    if (list.length >= this.o.maxIdlePerHost) {
      c.destroy();
      return;
    }
    list.push(c);
  }

  dropIdle(c: Connection): void {
    const list = this.idle.get(c.key);
    const i = list?.indexOf(c) ?? -1;
    if (i >= 0) list!.splice(i, 1);
    if (list?.length === 0) this.idle.delete(c.key);
  }
}

/** One TCP connection: one request at a time; a response at a time is parsed straight off `onread`. */
class Connection implements WireConnection {
  private readonly socket: Socket;
  private readonly readBuffer: Buffer;
  private res: WireResponse | null = null;
  private closed = false;
  private error: Error | null = null;
  /** Responses completed on this connection (a failure before any byte of the next one: stale). */
  private completed = 0;

  constructor(
    private readonly t: WireRanges,
    readonly key: string,
    target: URL,
  ) {
    this.readBuffer = Buffer.allocUnsafeSlow(t.o.readBufferSize);
    const host = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname;
    this.socket = connect({
      host,
      port: Number(target.port || 80),
      noDelay: true,
      // Asked again after every read: a body of known length is read straight into its block.
      onread: { buffer: () => this.res?.directTarget() ?? this.readBuffer, callback: (n: number, buf: Uint8Array) => this.onRead(n, buf) },
    });
    this.socket.on('error', (e) => (this.error ??= e));
    this.socket.on('close', () => this.onClose());
  }

  get usable(): boolean {
    return !this.closed && this.res === null;
  }

  request(head: string, url: string, signal: AbortSignal): Promise<RangeReply> {
    this.t.dropIdle(this);
    this.socket.ref();
    return new Promise<RangeReply>((resolve, reject) => {
      const res = new WireResponse(this, this.t.pool, this.t.o.maxHeadBytes, this.t.o.readBufferSize, url, signal, resolve, reject);
      this.res = res;
      if (signal.aborted) {
        res.fail(signal.reason);
        return;
      }
      this.socket.write(head);
    });
  }

  private onRead(n: number, buf: Uint8Array): boolean {
    const res = this.res;
    if (!res) {
      // Bytes nobody asked for (we never pipeline): the connection cannot be trusted any more.
      this.destroy();
      return false;
    }
    if (buf === this.readBuffer) res.feed(this.readBuffer, n);
    else res.feedDirect(buf, n);
    return !this.closed;
  }

  private onClose(): void {
    this.closed = true;
    this.t.dropIdle(this);
    const res = this.res;
    this.res = null;
    if (!res) return;
    const stale = this.completed > 0 && !res.receivedAny;
    res.onClosed(this.error, stale);
  }

  /** The response ended; `reusable`: nothing beyond it arrived and both sides keep the connection. */
  responseDone(reusable: boolean): void {
    this.res = null;
    this.completed++;
    if (reusable && !this.closed) {
      this.socket.unref();
      this.t.putIdle(this);
    } else this.destroy();
  }

  /** Stops reading until resume(): nobody takes the body yet. */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    if (this.socket.isPaused()) this.socket.resume();
  }

  destroy(): void {
    if (!this.closed) this.socket.destroy();
    this.closed = true;
  }
}
