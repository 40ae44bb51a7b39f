// Loopback ports for tests: one free to listen on, or one nothing listens on (for "cannot reach" cases).

/** A loopback port that was free a moment ago (taken, then let go). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** A loopback port nothing listens on: the same free port, named for what the test wants of it. */
export const closedPort = freePort;

/** Starts `server` on a free loopback port; resolves with the port (rejects if it cannot listen). */
export async function listenOnLoopback(server: { once(event: 'error', l: (e: Error) => void): unknown; listen(port: number, host: string, cb: () => void): unknown; address(): unknown }): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as { port: number }).port;
}

/** Host and port of an http(s) URL (brackets off an IPv6 literal; the scheme's default port). */
export function hostAndPort(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)) };
}
