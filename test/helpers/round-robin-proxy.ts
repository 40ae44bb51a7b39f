// A round-robin TCP load balancer on loopback for cluster tests: each new client connection goes to the
// next backend in turn (one that refuses is skipped), and stays there for its life, as behind a real
// load balancer without sticky sessions.
import net from 'node:net';
import { listenOnLoopback } from './ports.js';

export interface Backend {
  host: string;
  port: number;
}

export interface BackendStats {
  /** Client connections handed to this backend so far. */
  connections: number;
  /** Of those, still open. */
  open: number;
  /**
   * Of the open ones, those whose last bytes came from the client (a request sent or being sent, its
   * answer not begun): a kill now cuts a request in flight, not an idle keep-alive connection.
   */
  busy: number;
  /** Connection attempts it refused (or failed) so far. */
  refused: number;
}

export interface RoundRobinProxy {
  url: string;
  port: number;
  /** Where each backend is now, in turn order. */
  backends(): Backend[];
  /** Per backend, in the same order. */
  stats(): BackendStats[];
  /** Points slot `i` at another address (a node restarted elsewhere); its live connections stay. */
  setBackend(i: number, target: Backend | string): void;
  /** Cuts every open connection of backend `i` (both sockets destroyed), as a dying node's would be. */
  cut(i: number): void;
  /** Client connections no backend would take (every one refused). */
  readonly unrouted: number;
  close(): Promise<void>;
}

export async function startRoundRobinProxy(targets: Array<Backend | string>): Promise<RoundRobinProxy> {
  if (targets.length === 0) throw new Error('a round-robin proxy needs at least one backend');
  const slots = targets.map((t) => ({ target: toBackend(t), stats: { connections: 0, open: 0, busy: 0, refused: 0 }, live: new Set<net.Socket[]>(), waiting: new Set<net.Socket[]>() }));
  let next = 0;
  let unrouted = 0;
  const clients = new Set<net.Socket>();

  /** Connects to the next backend that accepts, starting at the turn's; null when none does. */
  async function route(): Promise<{ slot: number; upstream: net.Socket } | null> {
    const first = next;
    next = (next + 1) % slots.length;
    for (let k = 0; k < slots.length; k++) {
      const slot = (first + k) % slots.length;
      const upstream = await connect(slots[slot]!.target);
      if (upstream) {
        // The turn goes on from the backend that took it, so a refusing one does not double its neighbour's share.
        if (k > 0) next = (slot + 1) % slots.length;
        return { slot, upstream };
      }
      slots[slot]!.stats.refused++;
    }
    return null;
  }

  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    clients.add(client);
    client.once('close', () => clients.delete(client));
    client.on('error', () => client.destroy());
    void route().then((routed) => {
      if (!routed || client.destroyed) {
        if (!routed) unrouted++;
        routed?.upstream.destroy();
        client.destroy();
        return;
      }
      const { slot, upstream } = routed;
      const s = slots[slot]!;
      const pair = [client, upstream];
      s.stats.connections++;
      s.stats.open++;
      s.live.add(pair);
      let closed = 0;
      // An error on either side (a killed node's reset) takes the pair down, as a load balancer would.
      const down = () => {
        client.destroy();
        upstream.destroy();
      };
      for (const sock of pair) {
        sock.on('error', down);
        sock.once('close', () => {
          if (++closed === 1) down();
          if (closed === 2) {
            s.stats.open--;
            s.live.delete(pair);
            s.waiting.delete(pair);
          }
        });
      }
      // Which side spoke last: the client (a request waits for its answer) or the backend.
      client.on('data', () => s.waiting.add(pair));
      upstream.on('data', () => s.waiting.delete(pair));
      // pipe() carries backpressure both ways and passes a half-close (end) on.
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
  });

  const port = await listenOnLoopback(server);

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    backends: () => slots.map((s) => ({ ...s.target })),
    stats: () => slots.map((s) => ({ ...s.stats, busy: s.waiting.size })),
    setBackend(i, target) {
      slotOf(i).target = toBackend(target);
    },
    cut(i) {
      for (const pair of slotOf(i).live) for (const sock of pair) sock.destroy();
    },
    get unrouted() {
      return unrouted;
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const c of clients) c.destroy();
        for (const s of slots) for (const pair of s.live) for (const sock of pair) sock.destroy();
      });
    },
  };

  function slotOf(i: number) {
    const s = slots[i];
    if (!s) throw new Error(`no backend ${i} (there are ${slots.length})`);
    return s;
  }
}

/** A connected socket to `to`, or null when it refuses (or fails) within a few seconds. */
function connect(to: Backend): Promise<net.Socket | null> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: to.host, port: to.port, allowHalfOpen: true });
    const fail = () => {
      sock.destroy();
      resolve(null);
    };
    sock.setTimeout(5_000, fail);
    sock.once('error', fail);
    sock.once('connect', () => {
      sock.setTimeout(0);
      // The caller attaches its own handler; until then an error must not be unhandled.
      sock.on('error', () => {});
      sock.removeListener('error', fail);
      resolve(sock);
    });
  });
}

function toBackend(t: Backend | string): Backend {
  if (typeof t !== 'string') return { host: t.host, port: t.port };
  const u = new URL(t);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 80) };
}
