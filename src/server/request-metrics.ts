// Metrics of HTTP traffic: request latency by route and outcome, bytes in and out, open connections.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { FerryError } from '../protocol/index.js';
import { isStorageFull } from './http.js';
import type { Metrics } from './metrics.js';

export interface ObservedRequest {
  /** The router's name of the route, once matched ('none' until then: unknown paths, preflights). */
  route: string;
  /** Tells what the request failed with, so its outcome is the problem code rather than a status class. */
  fail(error: unknown): void;
}

/** Bytes of each connection already counted, so every byte is counted once across keep-alive requests. */
const counted = new WeakMap<Socket, { read: number; written: number }>();

/** Times a request; its latency and bytes are recorded when its response is done (or cut off). */
export function observeRequest(ctx: { metrics: Metrics }, req: IncomingMessage, res: ServerResponse): ObservedRequest {
  const started = performance.now();
  let code: string | undefined;
  const seen: ObservedRequest = {
    route: 'none',
    fail: (error) => {
      code = error instanceof FerryError ? error.code : req.socket.destroyed ? 'client-disconnected' : isStorageFull(error) ? 'insufficient-storage' : 'internal-error';
    },
  };
  res.once('close', () => {
    // A response that never finished lost its client (a failure known by then has its own code).
    const outcome = code ?? (res.writableFinished ? `${Math.floor(res.statusCode / 100)}xx` : 'client-disconnected');
    // The method only of matched routes: any string can arrive there, and labels must stay few.
    const method = seen.route === 'none' ? 'other' : (req.method ?? 'other');
    ctx.metrics.observe('ferry_http_request_duration_seconds', (performance.now() - started) / 1000, { route: seen.route, method, outcome });
    countBytes(ctx.metrics, req.socket, seen.route);
  });
  return seen;
}

/** Keeps the open-connections gauge, and counts what a connection moved after its last response. */
export function trackConnections(metrics: Metrics, server: Server): void {
  let open = 0;
  metrics.gauge('ferry_http_open_connections', () => open);
  server.on('connection', (socket: Socket) => {
    open += 1;
    socket.once('close', () => {
      open -= 1;
      countBytes(metrics, socket, 'none');
    });
  });
}

function countBytes(metrics: Metrics, socket: Socket, route: string): void {
  const before = counted.get(socket) ?? { read: 0, written: 0 };
  const now = { read: socket.bytesRead, written: socket.bytesWritten };
  counted.set(socket, now);
  if (now.read > before.read) metrics.inc('ferry_http_bytes_received_total', now.read - before.read, { route });
  if (now.written > before.written) metrics.inc('ferry_http_bytes_sent_total', now.written - before.written, { route });
}
