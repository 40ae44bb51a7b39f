// The download engine's RangeTransport for Node. A range GET on plain http: with no proxy configured
// takes the fast path (http-wire.ts: sockets of our own, reads straight into shared blocks); all else
// goes through undici (undici-ranges.ts): https:, a proxy from HTTP_PROXY, and a URL that answered
// with a redirect, whose 3xx the fast path drops so undici sends the GET again and follows it.
import type { Dispatcher } from 'undici';
import type { RangeReply, RangeTransport } from '../download/io.js';
import { BlockPool } from './http-block-pool.js';
import { WireRanges } from './http-wire.js';
import { undiciRange } from './undici-ranges.js';

export { HttpWireError } from './http-wire-format.js';

export interface RangeTransportOptions {
  /** Size of the pooled blocks the parts live in (default 1 MiB). */
  blockSize?: number;
  /** Blocks kept for reuse once given back (default 32). */
  maxFreeBlocks?: number;
  /** Fast path: bytes one socket read may return (default 256 KiB). */
  readBufferSize?: number;
  /** Fast path: idle connections kept per host:port (default 16). */
  maxIdlePerHost?: number;
  /** Fast path: largest response head accepted (default 64 KiB). */
  maxHeadBytes?: number;
  /**
   * For what the fast path does not take; default: the process's shared dispatcher. The fast path
   * knows only the environment's proxy: with a dispatcher that proxies otherwise, set fastPath false.
   */
  dispatcher?: Dispatcher;
  /** false: every GET through undici (default true). */
  fastPath?: boolean;
}

export function createRangeTransport(options: RangeTransportOptions = {}): RangeTransport & { close(): void } {
  const pool = new BlockPool(options.blockSize ?? 1024 * 1024, options.maxFreeBlocks ?? 32);
  const wire = new WireRanges(
    { readBufferSize: options.readBufferSize ?? 256 * 1024, maxIdlePerHost: options.maxIdlePerHost ?? 16, maxHeadBytes: options.maxHeadBytes ?? 64 * 1024 },
    pool,
  );
  return new NodeRangeTransport(wire, pool, options.dispatcher ?? null, options.fastPath ?? true);
}

const redirectStatuses = new Set([300, 301, 302, 303, 307, 308]);
/** URLs remembered as redirecting (sent straight to undici); forgotten all at once beyond this. */
const maxRemembered = 1000;

class NodeRangeTransport implements RangeTransport {
  private readonly redirecting = new Set<string>();

  constructor(
    private readonly wire: WireRanges,
    private readonly pool: BlockPool,
    private readonly dispatcher: Dispatcher | null,
    private readonly fastPath: boolean,
  ) {}

  handles(url: string): boolean {
    return protocolOf(url) === 'http:' || protocolOf(url) === 'https:';
  }

  async get(url: string, headers: Record<string, string>, signal: AbortSignal): Promise<RangeReply> {
    if (!this.fast(url)) return undiciRange(this.dispatcher, this.pool, url, headers, signal);
    const reply = await this.wire.get(url, headers, signal);
    const { status } = reply.response;
    if (!redirectStatuses.has(status) || !reply.response.headers.has('location')) return reply;
    reply.body.cancel();
    if (this.redirecting.size >= maxRemembered) this.redirecting.clear();
    this.redirecting.add(url);
    return undiciRange(this.dispatcher, this.pool, url, headers, signal);
  }

  /** Closes the fast path's idle connections (undici's pools close with their dispatcher). */
  close(): void {
    this.wire.close();
  }

  /** Whether the fast path speaks what `url` needs. */
  private fast(url: string): boolean {
    if (!this.fastPath || protocolOf(url) !== 'http:' || this.redirecting.has(url)) return false;
    // A proxy for http: URLs: undici goes through it (or not, as NO_PROXY says).
    return !(process.env.http_proxy ?? process.env.HTTP_PROXY);
  }
}

function protocolOf(url: string): string | null {
  try {
    return new URL(url).protocol;
  } catch {
    return null;
  }
}
