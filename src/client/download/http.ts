// One download request: fetch with an idle watchdog (no bytes for idleTimeoutMs → NetworkError), the
// body read as a stream (its parts kept as they arrived), every transport failure a NetworkError.
// Downloads use an idle timeout rather than the upload's whole-request one: a slow body keeps going.
// Range GETs go through the platform's RangeTransport when it has one: the same checks, no web stream.
import { NetworkError } from '../engine/errors.js';
import { networkError, type ServerContact } from '../engine/network-failure.js';
import type { Clock, Transport } from '../engine/io.js';
import { DownloadError } from './errors.js';
import type { RangeBody, RangeTransport } from './io.js';

export interface HttpDeps {
  fetch: Transport;
  /** The platform's direct path for range GETs (see Exchange.open's `direct`); null: fetch only. */
  ranges?: RangeTransport | null;
  clock: Clock;
  /** Sent with every request (e.g. authorization). */
  headers: Record<string, string>;
  idleTimeoutMs: number;
  /** Marked answered by the first HTTP response (for the retry policy; see network-failure.ts). */
  contact?: ServerContact;
}

export class Exchange {
  private readonly ctl = new AbortController();
  private readonly stopWatch = new AbortController();
  private lastActivity: number;
  private timedOut = false;
  private closed = false;
  private held = false;
  private res: Response | null = null;
  /** The body when the request went through the RangeTransport. */
  private direct: RangeBody | null = null;

  readonly what: string;

  private constructor(
    private readonly deps: HttpDeps,
    method: string,
    private readonly url: string,
    private readonly signal: AbortSignal,
  ) {
    this.what = `${method} ${url}`;
    this.lastActivity = deps.clock.now();
    signal.addEventListener('abort', this.onAbort, { once: true });
    void this.watch();
  }

  /**
   * Sends the request; resolves once the headers are in. Identity encoding: byte offsets must be the
   * file's. `direct`: a GET whose body is read with readExact, sent through deps.ranges when it
   * handles the URL; readExact's parts are then lent (give them back with release()).
   */
  static async open(
    deps: HttpDeps,
    method: string,
    url: string,
    headers: Record<string, string>,
    signal: AbortSignal,
    direct = false,
  ): Promise<Exchange> {
    signal.throwIfAborted();
    const ex = new Exchange(deps, method, url, signal);
    const all = { 'accept-encoding': 'identity', ...deps.headers, ...headers };
    try {
      if (direct && method === 'GET' && deps.ranges?.handles(url)) {
        const reply = await deps.ranges.get(url, all, ex.ctl.signal);
        ex.res = reply.response;
        ex.direct = reply.body;
      } else {
        ex.res = await deps.fetch(url, { method, headers: all, signal: ex.ctl.signal });
      }
    } catch (e) {
      ex.close();
      throw ex.failure(e);
    }
    if (deps.contact) deps.contact.answered = true;
    ex.touch();
    return ex;
  }

  get response(): Response {
    return this.res!;
  }

  /** Where the answer came from: the request's URL, or the last one a redirect led to. */
  get finalUrl(): string {
    return this.res?.url || this.url;
  }

  /**
   * Reads a body of exactly `length` bytes, as the parts it arrived in; `onPart` sees each one.
   * `lentLimit`: see RangeBody.read (direct requests only).
   */
  async readExact(length: number, onPart?: (part: Uint8Array) => void, options: { lentLimit?: number } = {}): Promise<Uint8Array[]> {
    const parts: Uint8Array[] = [];
    let filled = 0;
    const take = (part: Uint8Array) => {
      if (filled + part.byteLength > length) {
        this.release(part);
        throw new DownloadError('protocol', `${this.what}: the body is longer than the ${length} bytes asked for.`);
      }
      parts.push(part);
      filled += part.byteLength;
      onPart?.(part);
    };
    if (this.direct) {
      try {
        await this.direct.read((part) => {
          this.touch();
          take(part);
        }, options);
      } catch (e) {
        throw this.failure(e);
      }
    } else {
      for await (const part of this.chunks()) take(part);
    }
    if (filled !== length) throw new NetworkError(`${this.what}: the body ended after ${filled} of ${length} bytes.`);
    return parts;
  }

  /** Gives back a part readExact lent (direct requests); a no-op for fetch's parts. */
  release(part: Uint8Array): void {
    if (!this.direct) return;
    // Written: progress, even while reading waits for the disk (lentLimit).
    this.touch();
    this.direct.release(part);
  }

  /** The body as it arrives; transport failures become NetworkError (or the caller's abort reason). */
  async *chunks(): AsyncGenerator<Uint8Array> {
    if (this.direct) {
      // Not streamed part by part (nothing needs that on the direct path): the parts, once all in.
      for (const part of await this.directParts()) yield part;
      return;
    }
    const body = this.response.body;
    if (!body) return;
    const reader = body.getReader();
    try {
      for (;;) {
        let step: ReadableStreamReadResult<Uint8Array>;
        try {
          step = await reader.read();
        } catch (e) {
          throw this.failure(e);
        }
        if (step.done) return;
        this.touch();
        yield step.value;
      }
    } finally {
      reader.releaseLock();
    }
  }

  /** A short body (an error document), cut at `limit` characters. */
  async text(limit = 64 * 1024): Promise<string> {
    let out = '';
    const decoder = new TextDecoder();
    for await (const part of this.chunks()) {
      out += decoder.decode(part, { stream: true });
      if (out.length >= limit) break;
    }
    return out.slice(0, limit);
  }

  /** Stops the watchdog and drops whatever of the body was not read (the connection is not reused then). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopWatch.abort();
    this.signal.removeEventListener('abort', this.onAbort);
    this.direct?.cancel();
    if (this.res?.body && !this.res.body.locked) this.res.body.cancel().catch(() => {});
  }

  /** A direct body (an error document), copied out of the lent parts; at most about `limit` bytes of it. */
  private async directParts(limit = 4 * 1024 * 1024): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    let got = 0;
    const enough = new Error('enough');
    try {
      await this.direct!.read((part) => {
        this.touch();
        out.push(part.slice());
        this.direct!.release(part);
        got += part.byteLength;
        if (got >= limit) throw enough;
      });
    } catch (e) {
      if (e !== enough) throw this.failure(e);
    }
    return out;
  }

  /** While the reader deliberately stops reading (paused), silence is not a dead connection. */
  holdWatch(held: boolean): void {
    this.held = held;
    this.touch();
  }

  private readonly onAbort = () => this.ctl.abort(this.signal.reason);

  private touch(): void {
    this.lastActivity = this.deps.clock.now();
  }

  private failure(e: unknown): unknown {
    if (this.signal.aborted) return this.signal.reason;
    if (this.timedOut) return this.ctl.signal.reason;
    if (e instanceof DownloadError || e instanceof NetworkError) return e;
    return networkError(this.what, this.url, e);
  }

  /** One timer per idle period (not one per read): sleeps until the deadline, re-arms if bytes came. */
  private async watch(): Promise<void> {
    const { clock, idleTimeoutMs } = this.deps;
    for (;;) {
      if (this.held) this.touch();
      const wait = this.lastActivity + idleTimeoutMs - clock.now();
      if (wait <= 0) {
        this.timedOut = true;
        this.ctl.abort(new NetworkError(`${this.what}: no data for ${idleTimeoutMs} ms`, { timeout: true }));
        return;
      }
      try {
        await clock.sleep(wait, this.stopWatch.signal);
      } catch {
        return;
      }
    }
  }
}

/** One buffer holding `parts` in order (only where a platform cannot take the parts themselves). */
export function concatParts(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
