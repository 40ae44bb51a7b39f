// The fault proxy itself: real sockets on loopback, faults checked against what the target really received.
import net from 'node:net';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { startFaultProxy, type FaultPlan, type FaultProxy } from '../helpers/fault-proxy.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function listen(server: net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => new Promise((r) => server.close(r)));
  return (server.address() as net.AddressInfo).port;
}

/** Echoes every byte and half-closes back when the client half-closes. */
async function startEcho(): Promise<number> {
  const sockets = new Set<net.Socket>();
  cleanups.push(async () => sockets.forEach((s) => s.destroy()));
  return listen(
    net.createServer({ allowHalfOpen: true }, (s) => {
      sockets.add(s);
      s.on('error', () => {});
      s.pipe(s);
    }),
  );
}

/** Records what each accepted connection received, in accept order, resolved once that socket closes. */
async function startSink(): Promise<{ port: number; received(i: number): Promise<Buffer> }> {
  const slots: Array<{ promise: Promise<Buffer>; resolve: (b: Buffer) => void }> = [];
  const slot = (i: number) => {
    if (!slots[i]) {
      let resolve!: (b: Buffer) => void;
      slots[i] = { promise: new Promise((r) => (resolve = r)), resolve };
    }
    return slots[i];
  };
  let accepted = 0;
  const port = await listen(
    net.createServer((s) => {
      const mine = slot(accepted++);
      const parts: Buffer[] = [];
      s.on('data', (p: Buffer) => parts.push(p));
      s.on('error', () => {});
      s.on('close', () => mine.resolve(Buffer.concat(parts)));
    }),
  );
  return { port, received: (i) => slot(i).promise };
}

/** Sends `data`, half-closes, and resolves with everything read back once the socket is closed (cleanly or not). */
function send(port: number, data: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const parts: Buffer[] = [];
    sock.on('data', (p: Buffer) => parts.push(p));
    sock.on('error', () => {}); // a cut shows up as ECONNRESET/EPIPE: expected here
    sock.on('close', () => resolve(Buffer.concat(parts)));
    sock.end(data);
  });
}

async function proxyTo(port: number, plan: FaultPlan): Promise<FaultProxy> {
  const proxy = await startFaultProxy(`http://127.0.0.1:${port}`, plan);
  cleanups.push(() => proxy.close());
  return proxy;
}

describe('fault proxy', () => {
  it('passes 8 MiB through unchanged both ways with no plan', async () => {
    const proxy = await proxyTo(await startEcho(), {});
    const data = randomBytes(8 * MiB);
    const back = await send(proxy.port, data);
    expect(sha(back)).toBe(sha(data));
    expect(proxy.stats).toMatchObject({ connections: 1, bytesUp: 8 * MiB, bytesDown: 8 * MiB, faults: { cut: 0, stall: 0, flip: 0, delay: 0 } });
  });

  it('keeps order under per-piece latency', async () => {
    const proxy = await proxyTo(await startEcho(), { delayMs: 5 });
    const data = randomBytes(2 * MiB);
    expect(sha(await send(proxy.port, data))).toBe(sha(data));
    expect(proxy.stats.faults.delay).toBeGreaterThan(0);
  });

  it('cuts at the scheduled byte: the target received exactly that many', async () => {
    const sink = await startSink();
    const proxy = await proxyTo(sink.port, { seed: 42, cutRate: 1, cutAfterBytes: [100_000, 200_000] });
    await send(proxy.port, randomBytes(1 * MiB));
    const got = await sink.received(0);
    expect(proxy.stats.log).toEqual([{ kind: 'cut', connection: 0, direction: 'up', atByte: got.length }]);
    expect(got.length).toBeGreaterThanOrEqual(100_000);
    expect(got.length).toBeLessThanOrEqual(200_000);
    expect(proxy.stats.bytesUp).toBe(got.length);
  });

  it('flips exactly one bit inside the window, once', async () => {
    const sink = await startSink();
    const proxy = await proxyTo(sink.port, { seed: 3, flipRate: 1, maxFlips: 1, flipWindow: [1_000_000, 2_000_000] });
    const data = randomBytes(3 * MiB);
    await send(proxy.port, data);
    const got = await sink.received(0);
    expect(got.length).toBe(data.length);
    const diffs = [...data.keys()].filter((i) => data[i] !== got[i]);
    expect(diffs).toHaveLength(1);
    const at = diffs[0];
    expect(at).toBeGreaterThanOrEqual(1_000_000);
    expect(at).toBeLessThanOrEqual(2_000_000);
    const xor = data[at] ^ got[at];
    expect(xor & (xor - 1)).toBe(0); // a single bit
    expect(proxy.stats.log).toEqual([{ kind: 'flip', connection: 0, direction: 'up', atByte: at, bit: Math.log2(xor) }]);
    // maxFlips is spent: the next connection is clean.
    await send(proxy.port, data);
    expect(sha(await sink.received(1))).toBe(sha(data));
  });

  it('same seed gives the same schedule; another seed does not', async () => {
    const run = async (seed: number) => {
      const sink = await startSink();
      const proxy = await proxyTo(sink.port, { seed, cutRate: 0.5, cutAfterBytes: [1_000, 60_000], flipRate: 0.5, flipWindow: [0, 60_000] });
      for (let i = 0; i < 6; i++) {
        await send(proxy.port, randomBytes(64 * KiB));
        await sink.received(i);
      }
      return proxy.stats.log;
    };
    const first = await run(11);
    expect(first.length).toBeGreaterThan(0);
    expect(await run(11)).toEqual(first);
    expect(await run(12)).not.toEqual(first);
  });

  it('throttles but delivers and counts every byte', async () => {
    const proxy = await proxyTo(await startEcho(), { bytesPerSecond: 2 * MiB });
    const data = randomBytes(256 * KiB);
    expect(sha(await send(proxy.port, data))).toBe(sha(data));
    expect(proxy.stats.bytesUp).toBe(data.length);
    expect(proxy.stats.bytesDown).toBe(data.length);
  });

  it('stalls, and setPlan({}) releases the stall so the transfer finishes', async () => {
    const proxy = await proxyTo(await startEcho(), { seed: 1, stallRate: 1, stallAfterBytes: [10_000, 20_000], stallMs: 60_000 });
    const stalled = proxy.nextFault('stall');
    const data = randomBytes(512 * KiB);
    const done = send(proxy.port, data);
    const event = await stalled;
    expect(proxy.stats.bytesUp).toBe(event.atByte);
    proxy.setPlan({});
    expect(sha(await done)).toBe(sha(data));
  });

  it('stallThenCut cuts where it stalled', async () => {
    const sink = await startSink();
    const proxy = await proxyTo(sink.port, { seed: 9, stallRate: 1, stallMs: 10, stallThenCut: true });
    await send(proxy.port, randomBytes(256 * KiB));
    const got = await sink.received(0);
    expect(proxy.stats.log.map((e) => [e.kind, e.atByte])).toEqual([['stall', got.length], ['cut', got.length]]);
  });

  it('honours faultFreeFirstConnections and maxFaults', async () => {
    const sink = await startSink();
    const proxy = await proxyTo(sink.port, { seed: 5, cutRate: 1, cutAfterBytes: [1_000, 2_000], maxFaults: 2, faultFreeFirstConnections: 1 });
    const sizes: number[] = [];
    for (let i = 0; i < 4; i++) {
      await send(proxy.port, randomBytes(100 * KiB));
      sizes.push((await sink.received(i)).length);
    }
    expect(sizes[0]).toBe(100 * KiB);
    expect(sizes[1]).toBeLessThanOrEqual(2_000);
    expect(sizes[2]).toBeLessThanOrEqual(2_000);
    expect(sizes[3]).toBe(100 * KiB);
    expect(proxy.stats.faults.cut).toBe(2);
  });

  it('cutAll() and close() destroy open connections', async () => {
    const proxy = await startFaultProxy({ host: '127.0.0.1', port: await startEcho() }, {});
    const connect = async () => {
      const sock = net.connect(proxy.port, '127.0.0.1');
      sock.on('error', () => {});
      sock.write('ping');
      await once(sock, 'data'); // the pair is fully established
      return sock;
    };
    const [a, b] = [await connect(), await connect()];
    expect(proxy.stats.open).toBe(2);
    const closed = Promise.all([once(a, 'close'), once(b, 'close')]);
    proxy.cutAll();
    await closed;
    const c = await connect();
    const cClosed = once(c, 'close');
    await proxy.close();
    await cClosed;
    expect(proxy.stats.open).toBe(0);
  });

  it('survives an unreachable target without crashing', async () => {
    const spare = net.createServer();
    const port = await listen(spare);
    await new Promise((r) => spare.close(r)); // now nothing listens there
    const proxy = await proxyTo(port, {});
    expect(await send(proxy.port, Buffer.from('hello'))).toHaveLength(0);
    expect(proxy.stats.open).toBe(0);
  });
});
