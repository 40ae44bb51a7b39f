// GET /metrics on a listen address of its own (--metrics-address), for a scraper on a private network.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FerryError } from '../protocol/index.js';
import type { ServerContext } from './context.js';
import { sendProblem } from './http.js';

export interface MetricsListener {
  /** http://host:port of the metrics listener. */
  url: string;
  close(): Promise<void>;
}

/** Splits "host:port" ("[::1]:9464" for IPv6); null when it is not one. */
export function parseHostPort(address: string): { host: string; port: number } | null {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  const port = Number(m?.[3]);
  if (!m || port > 65535) return null;
  return { host: m[1] ?? m[2]!, port };
}

/** Serves the server's metrics, without credentials, on `address`; nothing else is answered there. */
export async function startMetricsListener(ctx: ServerContext, address: string): Promise<MetricsListener> {
  const { host, port } = parseHostPort(address)!;
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') return sendProblem(req, res, new FerryError('not-found', `Nothing at ${path}; this address serves /metrics only.`));
    if (req.method !== 'GET') {
      res.setHeader('allow', 'GET');
      return sendProblem(req, res, new FerryError('method-not-allowed', `${req.method} is not allowed on /metrics.`));
    }
    ctx.metrics.render().then(
      (text) => {
        res.writeHead(200, { 'content-type': ctx.metrics.contentType, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      },
      (error: unknown) => {
        ctx.log.error({ err: error }, 'metrics failed');
        sendProblem(req, res, new FerryError('internal-error', 'The metrics could not be collected.'));
      },
    );
  });
  // A scraper's keep-alive connection must not hold the server open at shutdown.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  return {
    url: `http://${shown.includes(':') ? `[${shown}]` : shown}:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
