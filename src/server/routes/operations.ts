// GET /metrics (Prometheus text) and GET /healthz: what operators watch.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServerContext } from '../context.js';
import { sendJson } from '../http.js';

export async function getMetrics(ctx: ServerContext, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  const text = ctx.metrics.render();
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function getHealth(_ctx: ServerContext, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  sendJson(res, 200, { status: 'ok' });
}
