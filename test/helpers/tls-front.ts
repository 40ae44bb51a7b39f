// A TLS front for a plain-HTTP server, as a load balancer terminates TLS: it decrypts each
// connection and passes its bytes on, unchanged, to 127.0.0.1:targetPort. Ferry's server speaks
// plain HTTP only; behind this front its clients speak https.
import { connect, type Socket } from 'node:net';
import { createServer } from 'node:tls';

export interface TlsFront {
  /** https://127.0.0.1:port */
  url: string;
  /** Where connections go (may be set after start, e.g. once the server behind knows its --public-url). */
  targetPort: number;
  /** TLS connections accepted (handshake done). */
  connections: number;
  close(): Promise<void>;
}

export async function startTlsFront(cert: { cert: string; key: string }, targetPort = 0): Promise<TlsFront> {
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };
  const server = createServer({ cert: cert.cert, key: cert.key }, (clear) => {
    front.connections++;
    const upstream = connect(front.targetPort, '127.0.0.1');
    track(clear);
    track(upstream);
    clear.pipe(upstream).pipe(clear);
    clear.on('error', () => upstream.destroy());
    upstream.on('error', () => clear.destroy());
    clear.on('close', () => upstream.destroy());
    upstream.on('close', () => clear.destroy());
  });
  // A client that refuses the certificate drops the connection mid-handshake: not the front's failure.
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const front: TlsFront = {
    url: `https://127.0.0.1:${port}`,
    targetPort,
    connections: 0,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
  return front;
}
