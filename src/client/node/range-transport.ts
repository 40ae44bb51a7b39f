// The download engine's RangeTransport for http: URLs: HTTP/1.1 GETs on keep-alive TCP connections
// of our own, read with `onread` straight into pooled blocks that the engine hashes, writes and gives
// back (a Content-Length body; the head, chunked and close-delimited bodies are read into one buffer
// per connection, parsed and copied into the blocks). Through node:http and a web stream, every 64 KiB read
// allocated a fresh buffer, went through the HTTP parser, a Readable, a ReadableStream and a promise,
// and the garbage collector reclaimed a GiB of buffers per GiB downloaded; this costs about a third
// of the CPU. Only what a range GET needs is spoken: no request body, no pipelining, no upgrades.
// Bodies framed by Content-Length, chunked, or the end of the connection; anything malformed fails
// the request (the engine retries it). https: URLs are left to fetch.
import { connect, type Socket } from 'node:net';
import type { RangeBody, RangeReply, RangeTransport } from '../download-io.js';

export interface RangeTransportOptions {
  /** Bytes one socket read may return (default 256 KiB). */
  readBufferSize?: number;
  /** Size of the pooled blocks the parts live in (default 1 MiB). */
  blockSize?: number;
  /** Blocks kept for reuse once given back (default 32). */
  maxFreeBlocks?: number;
  /** Idle connections kept per host:port (default 16). */
  maxIdlePerHost?: number;
  /** Largest response head accepted (default 64 KiB). */
  maxHeadBytes?: number;
}

/** What went wrong on the wire: the engine retries it like any network failure. */
export class HttpWireError extends Error {
  constructor(
    message: string,
    /** The connection was reused and failed before a byte of the response: a stale keep-alive. */
    readonly stale = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'HttpWireError';
  }
}

export function createRangeTransport(options: RangeTransportOptions = {}): RangeTransport & { close(): void } {
  return new NodeRangeTransport({
    readBufferSize: options.readBufferSize ?? 256 * 1024,
    blockSize: options.blockSize ?? 1024 * 1024,
    maxFreeBlocks: options.maxFreeBlocks ?? 32,
    maxIdlePerHost: options.maxIdlePerHost ?? 16,
    maxHeadBytes: options.maxHeadBytes ?? 64 * 1024,
  });
}

const tokenRe = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const badValueRe = /[\r\n\0]/;
const statusLineRe = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/;
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
/** A block with less room than this left is not read into any more; the next read starts a new one. */
const minDirectRead = 64 * 1024;

class NodeRangeTransport implements RangeTransport {
  private readonly idle = new Map<string, Connection[]>();
  readonly pool: BlockPool;

  constructor(readonly o: Required<RangeTransportOptions>) {
    this.pool = new BlockPool(o.blockSize, o.maxFreeBlocks);
  }

  handles(url: string): boolean {
    try {
      return new URL(url).protocol === 'http:';
    } catch {
      return false;
    }
  }

  async get(url: string, headers: Record<string, string>, signal: AbortSignal): Promise<RangeReply> {
    signal.throwIfAborted();
    const target = new URL(url);
    if (target.protocol !== 'http:') throw new TypeError(`This transport speaks http: only, not ${target.protocol}`);
    const head = requestHead(target, headers);
    const key = target.host;
    for (;;) {
      const conn = this.takeIdle(key) ?? new Connection(this, key, target);
      try {
        return await conn.request(head, signal);
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

/** The request head: GET, Host, the caller's headers (validated: no header injection). */
function requestHead(target: URL, headers: Record<string, string>): string {
  let head = `GET ${target.pathname}${target.search} HTTP/1.1\r\nhost: ${target.host}\r\n`;
  const names = Object.keys(headers).map((n) => n.toLowerCase());
  if ((target.username || target.password) && !names.includes('authorization')) {
    // As node:http does with credentials in the URL.
    const user = `${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`;
    head += `authorization: Basic ${Buffer.from(user).toString('base64')}\r\n`;
  }
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (lower === 'host' || lower === 'connection' || lower === 'content-length' || lower === 'transfer-encoding') continue;
    if (!tokenRe.test(name)) throw new TypeError(`Invalid header name: ${JSON.stringify(name)}`);
    const v = String(value);
    if (badValueRe.test(v)) throw new TypeError(`Invalid value for header ${name}`);
    head += `${name}: ${v}\r\n`;
  }
  return head + '\r\n';
}

/** Blocks the body parts are copied into; given back by the engine once written. */
class BlockPool {
  private readonly free: Buffer[] = [];
  /** Every part lent and not yet given back: the block it lives in and the response it came with. */
  private readonly lent = new WeakMap<Uint8Array, { block: Block; owner: ResponseState }>();

  constructor(
    readonly blockSize: number,
    private readonly maxFree: number,
  ) {}

  take(): Block {
    // Not from Buffer's slab: each block owns its memory, so reusing it touches nothing else. Shared
    // memory, so a hash on a worker thread reads the parts where they are (node/worker-hasher.ts).
    return { bytes: this.free.pop() ?? Buffer.from(new SharedArrayBuffer(this.blockSize)), used: 0, refs: 1 };
  }

  /** A view of the block's next `n` bytes (already copied in), lent to the caller. */
  lend(block: Block, n: number, owner: ResponseState): Uint8Array {
    const part = block.bytes.subarray(block.used, block.used + n);
    block.used += n;
    block.refs++;
    this.lent.set(part, { block, owner });
    return part;
  }

  release(part: Uint8Array): void {
    const entry = this.lent.get(part);
    if (!entry) return;
    this.lent.delete(part);
    this.unref(entry.block);
    entry.owner.returned(part.byteLength);
  }

  /** Drops one reference (a part given back, or the filling response done with it). */
  unref(block: Block): void {
    if (--block.refs === 0 && this.free.length < this.maxFree) this.free.push(block.bytes);
  }
}

interface Block {
  bytes: Buffer;
  used: number;
  /** Parts lent and not given back, plus one while a response is filling the block. */
  refs: number;
}

type Framing = { kind: 'length'; remaining: number } | { kind: 'chunked' } | { kind: 'close' };

/** One TCP connection: one request at a time; a response at a time is parsed straight off `onread`. */
class Connection {
  private readonly socket: Socket;
  private readonly readBuffer: Buffer;
  private res: ResponseState | null = null;
  private closed = false;
  private error: Error | null = null;
  /** Responses completed on this connection (a failure before any byte of the next one: stale). */
  private completed = 0;

  constructor(
    private readonly t: NodeRangeTransport,
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

  request(head: string, signal: AbortSignal): Promise<RangeReply> {
    this.t.dropIdle(this);
    this.socket.ref();
    return new Promise<RangeReply>((resolve, reject) => {
      const res = new ResponseState(this, this.t.pool, this.t.o.maxHeadBytes, this.t.o.readBufferSize, signal, resolve, reject);
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

/** Parses one response off the reads and hands its body over as lent parts. */
class ResponseState implements RangeBody {
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
  // Chunked decoding: 'size' line, 'data' of chunkLeft bytes, its 'crlf', then 'trailer' lines.
  private chunkState: 'size' | 'data' | 'crlf' | 'trailer' = 'size';
  private chunkLeft = 0;
  private line = '';

  constructor(
    private readonly conn: Connection,
    private readonly pool: BlockPool,
    private readonly maxHeadBytes: number,
    private readonly maxRead: number,
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
    const lines = all.toString('latin1', 0, end).split('\r\n');
    const m = statusLineRe.exec(lines[0]!);
    if (!m) throw new HttpWireError(`Not an HTTP/1.x status line: ${JSON.stringify(lines[0]!.slice(0, 100))}`);
    const status = Number(m[2]);
    const headers = new Headers();
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon <= 0 || !tokenRe.test(line.slice(0, colon))) throw new HttpWireError(`Malformed response header line: ${JSON.stringify(line.slice(0, 100))}`);
      try {
        headers.append(line.slice(0, colon), line.slice(colon + 1).trim());
      } catch (e) {
        throw new HttpWireError(`Malformed response header ${JSON.stringify(line.slice(0, colon))}`, false, { cause: e });
      }
    }
    if (status >= 100 && status < 200) {
      if (status === 101) throw new HttpWireError('The server switched protocols (101) on a GET.');
      // 100 Continue, 103 Early Hints...: interim; the final response follows.
      if (bodyAt === n) return -1;
      const at = this.parseHead(buf.subarray(bodyAt), n - bodyAt);
      return at < 0 ? -1 : at + bodyAt;
    }
    if (status < 200 || status > 599) throw new HttpWireError(`Invalid HTTP status ${status}.`);
    this.framing = framingOf(status, headers);
    this.keepAlive = m[1] === '1' && !/(?:^|,)\s*close\s*(?:,|$)/i.test(headers.get('connection') ?? '');
    this.headDone = true;
    const response = new Response(null, { status, statusText: m[3] ?? '', headers });
    this.resolveHead({ response, body: this });
    if (this.framing.kind === 'length' && this.framing.remaining === 0) this.finish(bodyAt === n);
    return bodyAt;
  }

  /** Body bytes buf[at, end) of the framed stream. */
  private body(buf: Buffer, at: number, end: number): void {
    const f = this.framing;
    if (f.kind === 'length') {
      const take = Math.min(end - at, f.remaining);
      this.deliver(buf, at, at + take);
      f.remaining -= take;
      if (f.remaining === 0) this.finish(at + take === end);
      return;
    }
    if (f.kind === 'close') {
      this.deliver(buf, at, end);
      return;
    }
    this.chunked(buf, at, end);
  }

  private chunked(buf: Buffer, at: number, end: number): void {
    while (at < end && !this.done && this.failed === null) {
      if (this.chunkState === 'data') {
        const take = Math.min(end - at, this.chunkLeft);
        this.deliver(buf, at, at + take);
        at += take;
        this.chunkLeft -= take;
        if (this.chunkLeft === 0) this.chunkState = 'crlf';
        continue;
      }
      // 'size', 'crlf' and 'trailer' read a line.
      const nl = buf.indexOf(10, at);
      const stop = nl < 0 || nl >= end ? end : nl;
      this.line += buf.toString('latin1', at, stop);
      if (this.line.length > 4096) throw new HttpWireError('A chunked-encoding line is too long.');
      at = stop;
      if (stop === end) break;
      at++; // the \n
      const line = this.line.endsWith('\r') ? this.line.slice(0, -1) : this.line;
      this.line = '';
      if (this.chunkState === 'crlf') {
        if (line !== '') throw new HttpWireError('A chunk is longer than its size line says.');
        this.chunkState = 'size';
      } else if (this.chunkState === 'size') {
        const size = /^([0-9a-fA-F]{1,12})[ \t]*(?:;.*)?$/.exec(line);
        if (!size) throw new HttpWireError(`Malformed chunk size line: ${JSON.stringify(line.slice(0, 40))}`);
        this.chunkLeft = parseInt(size[1]!, 16);
        this.chunkState = this.chunkLeft === 0 ? 'trailer' : 'data';
      } else if (line === '') {
        this.finish(at === end);
      }
    }
  }

  /** Copies buf[start, end) into blocks and hands the parts over (or queues them until read()). */
  private deliver(buf: Buffer, start: number, end: number): void {
    const size = this.pool.blockSize;
    while (start < end) {
      if (this.block === null || this.block.used === size) {
        if (this.block) this.pool.unref(this.block);
        this.block = this.pool.take();
      }
      const n = Math.min(end - start, size - this.block.used);
      buf.copy(this.block.bytes, this.block.used, start, start + n);
      start += n;
      if (!this.hand(this.block, n)) return;
    }
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

/** How the body of a response to a GET is delimited (RFC 9112 §6.3). */
function framingOf(status: number, headers: Headers): Framing {
  if (status === 204 || status === 304) return { kind: 'length', remaining: 0 };
  const te = headers.get('transfer-encoding');
  if (te !== null) {
    return /(?:^|,)\s*chunked\s*$/i.test(te) ? { kind: 'chunked' } : { kind: 'close' };
  }
  const cl = headers.get('content-length');
  if (cl === null) return { kind: 'close' };
  // Repeated fields arrive joined ("5, 5"); they must agree.
  const values = new Set(cl.split(',').map((v) => v.trim()));
  const [only] = values;
  if (values.size !== 1 || !/^\d{1,15}$/.test(only!)) throw new HttpWireError(`Invalid Content-Length: ${JSON.stringify(cl.slice(0, 40))}`);
  return { kind: 'length', remaining: Number(only) };
}
