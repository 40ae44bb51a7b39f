// COPY of bench/lib/link.ts for bench/tools/link-ceiling.ts, not used by the bench. LINK_FIX=1 keeps
// delivering while the socket took every byte (a write() returning false only because one piece
// exceeded the 16 KiB highWaterMark); counts in stats.softBlocks / stats.hardBlocks.
// An emulated long-distance link for the benchmark: a loopback TCP proxy that delays every byte by
// half the round trip each way (in order), caps each connection's rate, shares one rate per direction
// among all connections (max-min fair, so one connection cannot starve the others), and can cut or
// stall connections at seeded byte offsets like the chaos tests' fault proxy.
//
// One timer drives everything in coarse slices (default 2 ms): each slice admits bytes onto the
// "wire" within the rates, and hands on the bytes whose delay is over. Buffers pass through as slices
// of what the sockets delivered; nothing is copied or touched per byte.
import net from 'node:net';
import { mulberry32, type Direction } from '../../test/helpers/fault-proxy.js';
const fix = process.env.LINK_FIX === '1';

export type { Direction };
import { hostAndPort, listenOnLoopback } from '../../test/helpers/ports.js';

type Range = [min: number, max: number];

/** Faults are decided per connection as it is accepted; offsets count the bytes of `direction`. */
export interface LinkFaults {
  seed: number;
  /** The direction whose bytes the cut and stall offsets count (the one carrying the file). */
  direction: Direction;
  cutRate: number;
  /** The peer receives exactly this many bytes of `direction`, then both sockets go. */
  cutAfterBytes: Range;
  stallRate: number;
  stallAfterBytes: Range;
  /** A stall freezes both directions of the connection this long, then it carries on. */
  stallMs: number;
}

export interface LinkOptions {
  rttMs: number;
  /** Each connection's cap, each way (window ÷ RTT and per-flow shaping on a real WAN). */
  perConnectionBytesPerSecond: number;
  /** The link's capacity each way, shared by every connection. */
  sharedBytesPerSecond: number;
  faults?: LinkFaults | null;
  /** Length of a scheduling slice. */
  sliceMs?: number;
}

export interface LinkStats {
  connections: number;
  open: number;
  /** Bytes delivered each way. */
  bytesUp: number;
  bytesDown: number;
  cuts: number;
  stalls: number;
  /** Bytes the link holds now (read but not yet delivered), all connections together, as of the last slice. */
  bufferedBytes: number;
  /** Most bytes the link held at once. */
  peakBufferedBytes: number;
  /** Times a sender was paused because its connection's read-ahead was full. */
  pauses: number;
  /** The longest gap between two slices while busy: far above sliceMs, this process was too busy to keep time. */
  maxSliceGapMs: number;
  /** Link time lost to such gaps: what a gap lasted beyond the 100 ms a slice can make up for, summed. */
  lostMs: number;
}

export interface Link {
  url: string;
  port: number;
  stats: LinkStats;
  /** CPU seconds this process spent since the link started (the link runs in the bench's own process). */
  cpuSeconds(): number;
  close(): Promise<void>;
}

interface Piece {
  buf: Buffer;
  due: number;
}

interface Conn {
  client: net.Socket;
  server: net.Socket;
  flows: Flow[];
  /** Nothing leaves the client before this: a TCP handshake costs a round trip. */
  openAt: number;
  stalledUntil: number;
  cutAt: number | null;
  stallAt: number | null;
  dead: boolean;
}

interface Flow {
  conn: Conn;
  dir: Direction;
  src: net.Socket;
  dst: net.Socket;
  inbox: Buffer[]; // read, not yet on the wire
  inboxBytes: number;
  pipe: Piece[]; // on the wire, due at `due`
  pipeBytes: number;
  tokens: number;
  delivered: number;
  ended: boolean;
  finished: boolean;
  blocked: boolean; // dst's buffer is full: wait for 'drain', as a TCP receive window would
  paused: boolean;
}

/**
 * What one connection may hold each way: a read-ahead (100 ms at its rate, to catch up after a late
 * slice), and the bytes on the wire (rate × one-way delay, with 100 ms to spare). Beyond the read-ahead
 * the sender is paused and nothing goes on a full wire, so a connection holds at most the two (plus one
 * socket read).
 */
export function connectionBuffers(o: LinkOptions): { inboxCap: number; pipeCap: number } {
  const flowRate = Math.min(o.perConnectionBytesPerSecond, o.sharedBytesPerSecond);
  return {
    inboxCap: Math.min(Math.max(256 * 1024, flowRate / 10), 4 * 1024 * 1024),
    pipeCap: (flowRate * (o.rttMs / 2 + 100)) / 1000 + 256 * 1024,
  };
}

export async function startLink(target: { host: string; port: number } | string, o: LinkOptions): Promise<Link> {
  const to = typeof target === 'string' ? hostAndPort(target) : target;
  const oneWayMs = o.rttMs / 2;
  const sliceMs = o.sliceMs ?? 2;
  const perRate = o.perConnectionBytesPerSecond;
  const sharedRate = o.sharedBytesPerSecond;
  // Unused allowance carried between slices: a few slices' worth, so an idle connection cannot bank a burst.
  const burstMs = Math.max(5, 3 * sliceMs);
  // The longest gap a slice makes up for: as much as a connection reads ahead (see connectionBuffers).
  const maxCatchUpMs = 100;
  const { inboxCap, pipeCap } = connectionBuffers(o);
  const rand = mulberry32(o.faults?.seed ?? 1);
  const shared: Record<Direction, number> = { up: 0, down: 0 };
  const conns = new Set<Conn>();
  const stats: LinkStats & { softBlocks: number; hardBlocks: number } = { softBlocks: 0, hardBlocks: 0,  connections: 0, open: 0, bytesUp: 0, bytesDown: 0, cuts: 0, stalls: 0, bufferedBytes: 0, peakBufferedBytes: 0, pauses: 0, maxSliceGapMs: 0, lostMs: 0 };
  const cpuAtStart = process.cpuUsage();
  let timer: NodeJS.Timeout | null = null;
  let last = performance.now();

  const wake = () => {
    if (timer) return;
    last = performance.now();
    timer = setTimeout(slice, sliceMs);
  };

  function slice(): void {
    timer = null;
    const now = performance.now();
    stats.maxSliceGapMs = Math.max(stats.maxSliceGapMs, now - last);
    stats.lostMs += Math.max(0, now - last - maxCatchUpMs);
    const dt = Math.min(now - last, maxCatchUpMs) / 1000;
    last = now;
    admit('up', now, dt);
    admit('down', now, dt);
    let buffered = 0;
    let busy = false;
    for (const c of conns) {
      for (const f of c.flows) {
        deliver(f, now);
        buffered += f.inboxBytes + f.pipeBytes;
        if (!c.dead && (f.inboxBytes > 0 || f.pipeBytes > 0)) busy = true;
      }
    }
    stats.bufferedBytes = buffered;
    stats.peakBufferedBytes = Math.max(stats.peakBufferedBytes, buffered);
    if (busy) {
      last = now;
      timer = setTimeout(slice, sliceMs);
    }
  }

  /** Puts bytes on the wire: each connection within its own allowance, the shared one split max-min fairly. */
  function admit(dir: Direction, now: number, dt: number): void {
    // Allowance left unused is kept a few slices, or one slice as long as the last gap: after this
    // process waited for the CPU, the next slice (with the read-ahead refilled) catches up.
    const keep = Math.max(burstMs / 1000, dt);
    const wanting: { f: Flow; want: number }[] = [];
    for (const c of conns) {
      const f = c.flows[dir === 'up' ? 0 : 1]!;
      f.tokens += dt * perRate;
      const open = !c.dead && c.stalledUntil <= now && (dir === 'down' || c.openAt <= now);
      const want = open ? Math.min(f.inboxBytes, Math.floor(f.tokens), Math.floor(pipeCap - f.pipeBytes)) : 0;
      if (want > 0) wanting.push({ f, want });
      else f.tokens = Math.min(f.tokens, perRate * keep);
    }
    let left = Math.floor((shared[dir] += dt * sharedRate));
    wanting.sort((a, b) => a.want - b.want);
    for (let i = 0; i < wanting.length; i++) {
      const { f, want } = wanting[i]!;
      const n = Math.min(want, Math.floor(left / (wanting.length - i)));
      left -= n;
      shared[dir] -= n;
      f.tokens = Math.min(f.tokens - n, perRate * keep);
      if (n > 0) onWire(f, n, now + oneWayMs);
    }
    shared[dir] = Math.min(shared[dir], sharedRate * keep);
  }

  function onWire(f: Flow, n: number, due: number): void {
    f.inboxBytes -= n;
    f.pipeBytes += n;
    while (n > 0) {
      const b = f.inbox[0]!;
      if (b.length <= n) {
        f.inbox.shift();
        f.pipe.push({ buf: b, due });
        n -= b.length;
      } else {
        f.pipe.push({ buf: b.subarray(0, n), due });
        f.inbox[0] = b.subarray(n);
        n = 0;
      }
    }
    if (f.paused && f.inboxBytes < inboxCap / 2) {
      f.paused = false;
      f.src.resume();
    }
  }

  /** Hands on the bytes whose delay is over, cutting or stalling at the scheduled offsets. */
  function deliver(f: Flow, now: number): void {
    const c = f.conn;
    if (c.dead || f.blocked || c.stalledUntil > now) return;
    const faulty = o.faults?.direction === f.dir;
    while (f.pipe.length && f.pipe[0]!.due <= now) {
      const piece = f.pipe[0]!;
      let buf = piece.buf;
      if (faulty && c.cutAt !== null && f.delivered + buf.length > c.cutAt) {
        const part = buf.subarray(0, c.cutAt - f.delivered);
        stats.cuts++;
        count(f, part.length);
        c.dead = true; // nothing more moves; the sockets go once the part is handed on
        f.dst.write(part, () => kill(c));
        return;
      }
      if (faulty && c.stallAt !== null && f.delivered + buf.length > c.stallAt) {
        const at = c.stallAt - f.delivered;
        c.stallAt = null;
        c.stalledUntil = now + o.faults!.stallMs;
        stats.stalls++;
        piece.buf = buf.subarray(at);
        buf = buf.subarray(0, at);
        f.pipeBytes -= at;
        count(f, at);
        if (at > 0) f.dst.write(buf);
        setTimeout(wake, o.faults!.stallMs).unref();
        return;
      }
      f.pipe.shift();
      f.pipeBytes -= buf.length;
      count(f, buf.length);
      if (!f.dst.write(buf)) {
        if (f.dst.writableLength === 0) stats.softBlocks++;
        else stats.hardBlocks++;
        if (fix && f.dst.writableLength === 0) continue;
        f.blocked = true;
        f.dst.once('drain', () => {
          f.blocked = false;
          wake();
        });
        return;
      }
    }
    if (f.ended && !f.finished && f.inboxBytes === 0 && f.pipeBytes === 0) {
      f.finished = true;
      f.dst.end(); // the half-close travels on; the other direction keeps going
    }
  }

  function count(f: Flow, n: number): void {
    f.delivered += n;
    if (f.dir === 'up') stats.bytesUp += n;
    else stats.bytesDown += n;
  }

  function kill(c: Conn): void {
    c.dead = true;
    if (!conns.delete(c)) return;
    c.client.destroy();
    c.server.destroy();
    stats.open = conns.size;
  }

  function flow(conn: Conn, dir: Direction, src: net.Socket, dst: net.Socket): Flow {
    const f: Flow = { conn, dir, src, dst, inbox: [], inboxBytes: 0, pipe: [], pipeBytes: 0, tokens: 0, delivered: 0, ended: false, finished: false, blocked: false, paused: false };
    src.on('data', (b: Buffer) => {
      f.inbox.push(b);
      f.inboxBytes += b.length;
      if (f.inboxBytes > inboxCap && !f.paused) {
        f.paused = true;
        stats.pauses++;
        src.pause();
      }
      wake();
    });
    src.on('end', () => {
      f.ended = true;
      wake();
    });
    return f;
  }

  const draw = (rate: number, [min, max]: Range) => {
    const roll = rand();
    const pos = rand();
    return roll < rate ? min + Math.floor(pos * (max - min + 1)) : null;
  };

  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    const f = o.faults;
    const upstream = net.connect({ host: to.host, port: to.port, allowHalfOpen: true, noDelay: true });
    // A fixed number of draws per connection, so one rate does not reshuffle the other's schedule.
    const cutAt = draw(f?.cutRate ?? 0, f?.cutAfterBytes ?? [0, 0]);
    const stallAt = draw(f?.stallRate ?? 0, f?.stallAfterBytes ?? [0, 0]);
    stats.connections++;
    const c: Conn = { client, server: upstream, flows: [], openAt: performance.now() + o.rttMs, stalledUntil: 0, cutAt, stallAt, dead: false };
    c.flows = [flow(c, 'up', client, upstream), flow(c, 'down', upstream, client)];
    conns.add(c);
    stats.open = conns.size;
    for (const sock of [client, upstream]) {
      sock.on('error', () => kill(c));
      sock.on('close', () => {
        if (client.destroyed && upstream.destroyed) kill(c);
      });
    }
    // The client's first bytes wait for the emulated handshake.
    setTimeout(wake, o.rttMs).unref();
  });

  const port = await listenOnLoopback(server);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stats,
    cpuSeconds() {
      const u = process.cpuUsage(cpuAtStart);
      return (u.user + u.system) / 1e6;
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const c of [...conns]) kill(c);
        if (timer) clearTimeout(timer);
        timer = null;
      });
    },
  };
}

