// The cluster tests' load balancer itself: connections go round the backends in turn, a refusing
// backend is skipped, keep-alive connections stay on their backend, and a cut backend's clients see it.
import { createServer, request, Agent, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startRoundRobinProxy } from '../helpers/round-robin-proxy.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An HTTP server that answers its own name; `hold` keeps requests to /hold open until released. */
async function backend(name: string): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end(name));
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let closed = false;
  const close = () =>
    closed
      ? Promise.resolve()
      : new Promise<void>((r) => {
          closed = true;
          server.close(() => r());
          server.closeAllConnections();
        });
  cleanups.push(close);
  return { url, server, close };
}

function get(url: string, agent: Agent | false = false, body = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve(text));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('round-robin proxy', () => {
  it('hands each new connection to the next backend, skipping one that refuses', async () => {
    const [a, b, c] = await Promise.all([backend('a'), backend('b'), backend('c')]);
    const proxy = await startRoundRobinProxy([a.url, b.url, c.url]);
    cleanups.push(() => proxy.close());

    const first = [];
    for (let i = 0; i < 6; i++) first.push(await get(proxy.url));
    expect(first).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);

    await b.close(); // b's port now refuses
    const second = [];
    for (let i = 0; i < 4; i++) second.push(await get(proxy.url));
    expect(second).toEqual(['a', 'c', 'a', 'c']);
    expect(proxy.stats().map((s) => s.connections)).toEqual([4, 2, 4]);
    expect(proxy.stats()[1]!.refused).toBe(2);
    expect(proxy.unrouted).toBe(0);
  });

  it('keeps a keep-alive connection on one backend and carries large bodies both ways', async () => {
    const [a, b] = await Promise.all([backend('a'), backend('b')]);
    const proxy = await startRoundRobinProxy([a.url, b.url]);
    cleanups.push(() => proxy.close());
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(async () => agent.destroy());
    const big = 'x'.repeat(8 * 1024 * 1024);
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await get(proxy.url, agent, big));
    expect(new Set(answers).size).toBe(1);
    expect(proxy.stats().map((s) => s.connections).sort()).toEqual([0, 1]);
  });

  it('points a slot at a new address, cuts a backend\'s connections, and gives up when every backend refuses', async () => {
    const [a, b] = await Promise.all([backend('a'), backend('b')]);
    const proxy = await startRoundRobinProxy([a.url, a.url]);
    cleanups.push(() => proxy.close());
    proxy.setBackend(1, b.url);
    expect(proxy.backends()[1]!.port).toBe(Number(new URL(b.url).port));
    expect([await get(proxy.url), await get(proxy.url)]).toEqual(['a', 'b']);

    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(async () => agent.destroy());
    expect(await get(proxy.url, agent)).toBe('a');
    expect(proxy.stats()[0]!.open).toBe(1);
    proxy.cut(0);
    await expect.poll(() => proxy.stats()[0]!.open).toBe(0);

    await Promise.all([a.close(), b.close()]);
    await expect(get(proxy.url)).rejects.toThrow();
    expect(proxy.unrouted).toBe(1);
  });
});
