// The WAN benchmark's link emulator (bench/lib/link.ts): real sockets on loopback. Lower bounds on
// time only (a link may be slower on a busy machine, never faster than its profile), exact bytes.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connectionBuffers, startLink, type Link, type LinkOptions } from '../../bench/lib/link.js';
import { startLinkProcess } from '../../bench/lib/link-process.js';
import { KiB, MiB } from '../../bench/lib/stats.js';
import { waitFor } from '../chaos/support/wait.js';
import { track } from '../helpers/children.js';
import { listenOnLoopback } from '../helpers/ports.js';

const repo = new URL('../..', import.meta.url).pathname;
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** Resolves when the socket is gone, reset or not (events.once would reject on the reset a cut may cause). */
const closed = (s: net.Socket) => new Promise<void>((resolve) => s.once('close', () => resolve()));

interface Received {
  bytes: Buffer[];
  total: number;
  /** performance.now() when the total first reached each watched count. */
  reachedAt: Map<number, number>;
}

/** A server that keeps what each connection sends (and, with `echo`, sends it back). */
async function startSink(o: { echo?: boolean; paused?: boolean } = {}) {
  const conns: { socket: net.Socket; got: Received; closed: Promise<void> }[] = [];
  const watch: number[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    const got: Received = { bytes: [], total: 0, reachedAt: new Map() };
    conns.push({ socket, got, closed: closed(socket) });
    if (o.paused) socket.pause();
    socket.on('data', (b: Buffer) => {
      got.bytes.push(b);
      got.total += b.length;
      for (const w of watch) if (got.total >= w && !got.reachedAt.has(w)) got.reachedAt.set(w, performance.now());
      if (o.echo) socket.write(b);
    });
    socket.on('end', () => socket.end());
    socket.on('error', () => {});
  });
  const port = await listenOnLoopback(server);
  cleanups.push(async () => {
    for (const c of conns) c.socket.destroy();
    await new Promise((r) => server.close(r));
  });
  return { port, conns, watch };
}

async function link(port: number, o: Partial<LinkOptions>): Promise<Link> {
  const l = await startLink({ host: '127.0.0.1', port }, { rttMs: 0, perConnectionBytesPerSecond: 1024 * MiB, sharedBytesPerSecond: 1024 * MiB, ...o });
  cleanups.push(() => l.close());
  return l;
}

/** Connects through the link and sends `data`, then half-closes; resolves once the connection is closed. */
function send(port: number, data: Buffer): { socket: net.Socket; connectedAt: Promise<number>; closed: Promise<void> } {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  socket.on('error', () => {});
  const connectedAt = once(socket, 'connect').then(() => performance.now());
  socket.end(data);
  cleanups.push(async () => socket.destroy());
  return { socket, connectedAt, closed: closed(socket) };
}

describe('link emulator', () => {
  it('delays each way by half the round trip, after a round trip for the handshake, and keeps every byte in order', async () => {
    const sink = await startSink({ echo: true });
    const l = await link(sink.port, { rttMs: 200 });
    const data = randomBytes(2 * MiB);
    const c = send(l.port, data);
    const back: Buffer[] = [];
    let firstBackAt = 0;
    c.socket.on('data', (b: Buffer) => {
      firstBackAt ||= performance.now();
      back.push(b);
    });
    await c.closed;
    expect(sha(Buffer.concat(back))).toBe(sha(data));
    // Handshake (200 ms), then 100 ms to the server and 100 ms back; 5 ms for the clocks' grain.
    expect(firstBackAt - (await c.connectedAt)).toBeGreaterThanOrEqual(395);
    expect(l.stats.bytesUp).toBe(data.length);
    expect(l.stats.bytesDown).toBe(data.length);
  });

  it("caps one connection at its own rate", async () => {
    const sink = await startSink();
    const l = await link(sink.port, { perConnectionBytesPerSecond: 8 * MiB, sharedBytesPerSecond: 100 * MiB });
    const data = randomBytes(4 * MiB);
    sink.watch.push(data.length);
    const c = send(l.port, data);
    await c.closed;
    const got = sink.conns[0]!.got;
    expect(sha(Buffer.concat(got.bytes))).toBe(sha(data));
    // 4 MiB at 8 MiB/s: half a second, less the few milliseconds of allowance the link may carry over.
    expect(got.reachedAt.get(data.length)! - (await c.connectedAt)).toBeGreaterThanOrEqual(480);
  });

  it('shares its capacity fairly: no connection gets ahead of the others', async () => {
    const sink = await startSink();
    const l = await link(sink.port, { sharedBytesPerSecond: 16 * MiB });
    const each = 3 * MiB;
    sink.watch.push(each);
    const datas = Array.from({ length: 4 }, () => randomBytes(each));
    const started = performance.now();
    const senders = datas.map((d) => send(l.port, d));
    await Promise.all(senders.map((s) => s.closed));
    const done = sink.conns.map((c) => c.got.reachedAt.get(each)!);
    // 12 MiB at 16 MiB/s: three quarters of a second in all, however it is split.
    expect(Math.max(...done) - started).toBeGreaterThanOrEqual(730);
    // Split fairly, they finish together: when the first is done the others are nearly done too.
    const first = Math.min(...done) - started;
    const last = Math.max(...done) - started;
    expect(first / last).toBeGreaterThan(0.75);
    for (const c of sink.conns) expect(sha(Buffer.concat(c.got.bytes))).toBe(sha(datas[sink.conns.indexOf(c)]!));
  });

  it('holds a bounded amount when the receiver stops reading, pausing the sender instead', async () => {
    const sink = await startSink({ paused: true });
    const options = { rttMs: 20, sharedBytesPerSecond: 100 * MiB };
    const l = await link(sink.port, options);
    const data = randomBytes(64 * MiB);
    const c = send(l.port, data);
    // The receiver reads nothing: the link's wire for this connection fills, then its read-ahead, then it pauses the sender.
    const { inboxCap, pipeCap } = connectionBuffers({ perConnectionBytesPerSecond: 1024 * MiB, ...options });
    await waitFor('the link to pause the sender with its buffers full', () => l.stats.pauses > 0 && l.stats.bufferedBytes >= pipeCap, { timeoutMs: 30_000, intervalMs: 20 });
    sink.conns[0]!.socket.resume();
    await c.closed;
    expect(sha(Buffer.concat(sink.conns[0]!.got.bytes))).toBe(sha(data));
    expect(l.stats.peakBufferedBytes).toBeLessThanOrEqual(inboxCap + pipeCap + 64 * KiB);
  });

  it('cuts a connection after exactly the scheduled bytes of the faulty direction', async () => {
    const sink = await startSink();
    const faults = { seed: 1, direction: 'up' as const, cutRate: 1, cutAfterBytes: [100_000, 100_000] as [number, number], stallRate: 0, stallAfterBytes: [0, 0] as [number, number], stallMs: 0 };
    const l = await link(sink.port, { faults });
    const c = send(l.port, randomBytes(1 * MiB));
    await c.closed;
    await sink.conns[0]!.closed;
    expect(sink.conns[0]!.got.total).toBe(100_000);
    expect(l.stats.cuts).toBe(1);
  });

  it('stalls a connection for the stall time, then carries on', async () => {
    const sink = await startSink();
    const faults = { seed: 1, direction: 'up' as const, cutRate: 0, cutAfterBytes: [0, 0] as [number, number], stallRate: 1, stallAfterBytes: [50_000, 50_000] as [number, number], stallMs: 400 };
    const l = await link(sink.port, { faults });
    sink.watch.push(50_000, 50_001);
    const data = randomBytes(1 * MiB);
    const c = send(l.port, data);
    await c.closed;
    const got = sink.conns[0]!.got;
    expect(sha(Buffer.concat(got.bytes))).toBe(sha(data));
    expect(got.reachedAt.get(50_001)! - got.reachedAt.get(50_000)!).toBeGreaterThanOrEqual(395);
    expect(l.stats.stalls).toBe(1);
  });

  it('draws the same fault schedule from the same seed', async () => {
    const schedule = async () => {
      const sink = await startSink();
      const faults = { seed: 7, direction: 'up' as const, cutRate: 0.5, cutAfterBytes: [1000, 200_000] as [number, number], stallRate: 0, stallAfterBytes: [0, 0] as [number, number], stallMs: 0 };
      const l = await link(sink.port, { faults });
      const got: number[] = [];
      // One connection after another, so their order (which draws each) is fixed.
      for (let i = 0; i < 8; i++) {
        await send(l.port, randomBytes(256 * KiB)).closed;
        await sink.conns[i]!.closed;
        got.push(sink.conns[i]!.got.total);
      }
      return got;
    };
    const a = await schedule();
    expect(a.some((n) => n < 256 * KiB)).toBe(true);
    expect(a.some((n) => n === 256 * KiB)).toBe(true);
    expect(await schedule()).toEqual(a);
  });

  it('runs as a process of its own and reports its counters when stopped', async () => {
    const sink = await startSink({ echo: true });
    const l = await startLinkProcess(repo, `http://127.0.0.1:${sink.port}`, { rttMs: 10, perConnectionBytesPerSecond: 64 * MiB, sharedBytesPerSecond: 64 * MiB });
    track(l.child);
    let stopped = false;
    cleanups.push(() => (stopped ? Promise.resolve() : l.stop()));
    const data = randomBytes(1 * MiB);
    const c = send(Number(new URL(l.url).port), data);
    const back: Buffer[] = [];
    c.socket.on('data', (b: Buffer) => back.push(b));
    await c.closed;
    stopped = true;
    const { stats, cpuSeconds } = await l.stop();
    expect(sha(Buffer.concat(back))).toBe(sha(data));
    expect(stats.bytesUp).toBe(data.length);
    expect(stats.bytesDown).toBe(data.length);
    expect(cpuSeconds).toBeGreaterThan(0); // a Node process that started and forwarded 2 MiB
  }, 30_000);
});
