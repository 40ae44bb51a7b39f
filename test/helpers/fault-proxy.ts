// A fault-injecting TCP proxy for chaos tests: real loopback sockets between a client and a target,
// with seeded, reproducible cuts, stalls, bit flips, latency and throttling.
import net from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { hostAndPort, listenOnLoopback } from './ports.js';

export type Direction = 'up' | 'down'; // up = client → server
type DirChoice = Direction | 'both'; // 'both' = the PRNG picks one direction per connection
type Range = [min: number, max: number];
type Kind = 'cut' | 'stall' | 'flip';

/** Rates are per connection, decided at accept; byte offsets count that direction's stream from 0. */
export interface FaultPlan {
  seed?: number; // default 1: schedules are reproducible unless a test asks otherwise
  cutRate?: number;
  cutAfterBytes?: Range; // the peer receives exactly this many bytes, then both sockets go
  cutDirection?: DirChoice;
  flipRate?: number;
  flipWindow?: Range; // byte index that gets one bit flipped; aim it past the HTTP headers
  flipDirection?: DirChoice;
  maxFlips?: number;
  stallRate?: number;
  stallAfterBytes?: Range;
  stallDirection?: DirChoice;
  stallMs?: number;
  stallThenCut?: boolean; // a stall freezes both directions for stallMs, then resumes or cuts
  delayMs?: number;
  bytesPerSecond?: number;
  maxFaults?: number; // cut/stall/flip over the proxy's life, so a retrying transfer must finish
  faultFreeFirstConnections?: number; // counted from proxy start, not from setPlan()
}

export interface FaultEvent { kind: Kind; connection: number; direction: Direction; atByte: number; bit?: number }

export interface FaultStats {
  connections: number; // accepted so far
  open: number;
  bytesUp: number; // forwarded, after faults
  bytesDown: number;
  faults: { cut: number; stall: number; flip: number; delay: number }; // delay counts delayed pieces
  log: FaultEvent[]; // cut/stall/flip only: delays are too many to be worth logging
}

export interface FaultProxy {
  url: string;
  port: number;
  stats: FaultStats;
  setPlan(plan: FaultPlan): void;
  cutAll(): void;
  close(): Promise<void>;
  /** Resolves on the next injected fault (of `kind` if given); call it before provoking the fault. */
  nextFault(kind?: Kind): Promise<FaultEvent>;
}

/** mulberry32: tiny, good enough, and identical on every platform, so a seed pins the schedule (the bench's link uses it too). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Scheduled { dir: Direction; at: number; bit: number }
interface Conn {
  id: number;
  client: net.Socket;
  server: net.Socket;
  pending: Partial<Record<Kind, Scheduled>>;
  gate: Promise<void> | null; // set while stalled: both directions wait on it
  release: (() => void) | null;
  abort: AbortController; // wakes every timer/drain wait when the pair dies
  dead: boolean;
}

// Per-direction read-ahead bound: enough to keep loopback busy, small enough that a source is paused long
// before a whole body could pile up in the proxy.
const HIGH_WATER = 512 * 1024;

export async function startFaultProxy(target: { host: string; port: number } | string, initial: FaultPlan): Promise<FaultProxy> {
  const to = typeof target === 'string' ? hostAndPort(target) : target;
  let plan: FaultPlan = { ...initial };
  let rand = mulberry32(plan.seed ?? 1);
  let budgetUsed = 0;
  const open = new Set<Conn>();
  const waiters: { kind?: Kind; resolve: (e: FaultEvent) => void }[] = [];
  const stats: FaultStats = { connections: 0, open: 0, bytesUp: 0, bytesDown: 0, faults: { cut: 0, stall: 0, flip: 0, delay: 0 }, log: [] };

  // Fault decisions are made once at accept time with a fixed number of draws per kind, whatever the rates,
  // so changing one rate does not reshuffle the schedule of the others.
  function schedule(faulty: boolean, rate: number | undefined, choice: DirChoice | undefined, [min, max]: Range): Scheduled | undefined {
    const roll = rand(), dirRoll = rand(), posRoll = rand(), bitRoll = rand();
    if (!faulty || roll >= (rate ?? 0)) return undefined;
    const dir = choice === 'both' ? (dirRoll < 0.5 ? 'up' : 'down') : (choice ?? 'up');
    return { dir, at: min + Math.floor(posRoll * (max - min + 1)), bit: Math.floor(bitRoll * 8) };
  }

  // Checked when a fault is due, not when scheduled, so setPlan() and the budgets also cancel faults
  // already planned for live keep-alive connections.
  function allowed(kind: Kind): boolean {
    if (!((plan[`${kind}Rate` as const] ?? 0) > 0) || budgetUsed >= (plan.maxFaults ?? Infinity)) return false;
    return kind !== 'flip' || stats.faults.flip < (plan.maxFlips ?? Infinity);
  }

  function record(kind: Kind, conn: Conn, direction: Direction, atByte: number, bit?: number, budget = true): void {
    if (budget) budgetUsed++;
    stats.faults[kind]++;
    const event: FaultEvent = { kind, connection: conn.id, direction, atByte, ...(bit === undefined ? {} : { bit }) };
    stats.log.push(event);
    for (const w of waiters.splice(0)) (w.kind && w.kind !== kind ? waiters.push(w) : w.resolve(event));
  }

  function kill(conn: Conn): void {
    if (conn.dead) return;
    conn.dead = true;
    conn.abort.abort();
    conn.release?.();
    conn.client.destroy();
    conn.server.destroy();
    open.delete(conn);
    stats.open = open.size;
  }

  function forward(conn: Conn, dir: Direction, src: net.Socket, dst: net.Socket): void {
    const queue: { chunk: Buffer | null; due: number }[] = []; // null marks the source's end
    let queued = 0, sent = 0, pausedByUs = false;
    let wake: (() => void) | null = null;
    let flushed: Promise<void> = Promise.resolve();
    let tokens = 0, refilled = Date.now();
    const signal = conn.abort.signal;

    // Latency is pipelined (each piece is due `delayMs` after it arrived) rather than serial per piece,
    // like a long link; the single pump below keeps pieces in order.
    const enqueue = (chunk: Buffer | null) => {
      const delay = plan.delayMs ?? 0;
      if (chunk && delay > 0) stats.faults.delay++;
      queue.push({ chunk, due: Date.now() + delay });
      if (chunk) queued += chunk.length;
      if (queued > HIGH_WATER && !pausedByUs) (pausedByUs = true), src.pause();
      wake?.();
    };
    src.on('data', (chunk: Buffer) => enqueue(chunk));
    src.on('end', () => enqueue(null));

    // Token bucket with debt: take the tokens first, then sleep the debt off, so long-run rate is exact.
    const throttle = async (n: number) => {
      const rate = plan.bytesPerSecond;
      if (!rate) return;
      const now = Date.now();
      tokens = Math.min(Math.max(1, rate / 10), tokens + ((now - refilled) * rate) / 1000) - n;
      refilled = now;
      if (tokens < 0) await sleep((-tokens / rate) * 1000, undefined, { signal });
    };

    const cut = async (at: number, budget: boolean) => {
      record('cut', conn, dir, at, undefined, budget);
      await flushed; // so the peer really got exactly `at` bytes before the pair goes away
      kill(conn);
    };

    const pump = async () => {
      for (;;) {
        if (!queue.length) await new Promise<void>((r) => (wake = r));
        wake = null;
        const item = queue.shift();
        if (!item) continue;
        if (item.due > Date.now()) await sleep(item.due - Date.now(), undefined, { signal });
        await conn.gate;
        if (conn.dead) return;
        if (!item.chunk) return void dst.end(); // half-close travels on; the other direction keeps going
        let chunk = item.chunk;
        while (chunk.length) {
          await conn.gate;
          if (conn.dead) return;
          const due = (kind: Kind) => {
            const s = conn.pending[kind];
            if (!s || s.dir !== dir || s.at !== sent) return undefined;
            delete conn.pending[kind];
            return allowed(kind) ? s : undefined;
          };
          if (due('cut')) return cut(sent, true);
          if (due('stall')) {
            record('stall', conn, dir, sent);
            conn.gate = new Promise<void>((r) => (conn.release = r));
            const timer = setTimeout(conn.release!, plan.stallMs ?? 1000);
            await conn.gate;
            clearTimeout(timer);
            conn.gate = conn.release = null;
            if (conn.dead) return;
            // A stall released by setPlan() turning stalls off must not then cut.
            if (plan.stallThenCut && (plan.stallRate ?? 0) > 0) return cut(sent, false);
            continue;
          }
          const flip = due('flip');
          if (flip) {
            chunk = Buffer.from(chunk); // never scribble on a buffer someone else might hold
            chunk[0] ^= 1 << flip.bit;
            record('flip', conn, dir, sent, flip.bit);
          }
          // Split at the next scheduled offset so every fault lands on an exact byte boundary.
          let n = chunk.length;
          for (const s of Object.values(conn.pending)) if (s && s.dir === dir && s.at > sent) n = Math.min(n, s.at - sent);
          if (plan.bytesPerSecond) n = Math.min(n, Math.max(1, Math.floor(plan.bytesPerSecond / 10)));
          await throttle(n);
          if (conn.dead) return;
          const piece = chunk.subarray(0, n);
          chunk = chunk.subarray(n);
          let ok = true;
          flushed = new Promise<void>((r) => (ok = dst.write(piece, () => r())));
          sent += n;
          queued -= n;
          stats[dir === 'up' ? 'bytesUp' : 'bytesDown'] += n;
          if (!ok) await once(dst, 'drain', { signal });
          if (pausedByUs && queued <= HIGH_WATER / 2) (pausedByUs = false), src.resume();
        }
      }
    };
    // Any rejection here is an abort or a dead socket: the pair is torn down, never the test process.
    pump().catch(() => kill(conn));
  }

  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const id = stats.connections++;
    const faulty = id >= (plan.faultFreeFirstConnections ?? 0);
    const pending: Conn['pending'] = {
      cut: schedule(faulty, plan.cutRate, plan.cutDirection, plan.cutAfterBytes ?? [1, 65536]),
      flip: schedule(faulty, plan.flipRate, plan.flipDirection, plan.flipWindow ?? [0, 65535]),
      stall: schedule(faulty, plan.stallRate, plan.stallDirection, plan.stallAfterBytes ?? [1, 65536]),
    };
    const upstream = net.connect({ host: to.host, port: to.port, allowHalfOpen: true });
    const conn: Conn = { id, client, server: upstream, pending, gate: null, release: null, abort: new AbortController(), dead: false };
    open.add(conn);
    stats.open = open.size;
    // Errors (ECONNRESET, EPIPE, ECONNREFUSED) end the pair; clean closes just retire it once both are gone.
    for (const sock of [client, upstream]) {
      sock.on('error', () => kill(conn));
      sock.on('close', () => {
        if (client.destroyed && upstream.destroyed) kill(conn);
      });
    }
    forward(conn, 'up', client, upstream);
    forward(conn, 'down', upstream, client);
  });

  const port = await listenOnLoopback(server);

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stats,
    setPlan(next) {
      if (next.seed !== undefined && next.seed !== plan.seed) rand = mulberry32(next.seed);
      plan = { ...next };
      if (!((plan.stallRate ?? 0) > 0)) for (const conn of open) conn.release?.();
    },
    cutAll() {
      for (const conn of [...open]) kill(conn);
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const conn of [...open]) kill(conn);
      });
    },
    nextFault(kind) {
      return new Promise((resolve) => waiters.push({ kind, resolve }));
    },
  };
}

