// Starts a Ferry server: opens the stores, recovers interrupted completions, serves HTTP, sweeps.
import { mkdir } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { FerryError, Headers, PROTOCOL_VERSION } from '../protocol/index.js';
import { openEmbeddedStores } from '../stores/embedded.js';
import type { BlobStore, MetaStore } from '../stores/types.js';
import { recoverCompletions, recoverFailedCompletions } from './completion.js';
import { parseServerConfig, type ServerConfigInput } from './config.js';
import { createContext, type ServerContext } from './context.js';
import { isStorageFull, requestPath, sendClientError, sendProblem } from './http.js';
import { createLogger } from './logger.js';
import { route } from './router.js';
import { startSweeper, sweep, type SweepResult } from './sweeper.js';
import { recoverStorage } from './upload-lifecycle.js';

export interface FerryServer {
  /** http://host:port of the listening socket. */
  url: string;
  port: number;
  server: Server;
  ctx: ServerContext;
  /** Runs one expiry sweep now (the sweeper also runs on its interval). */
  sweep(): Promise<SweepResult>;
  close(): Promise<void>;
}

export interface StartOptions {
  meta?: MetaStore;
  blobs?: BlobStore;
  logger?: Logger;
}

export async function startServer(input: ServerConfigInput = {}, options: StartOptions = {}): Promise<FerryServer> {
  const config = parseServerConfig(input);
  await mkdir(config.dataDir, { recursive: true });
  const stores = options.meta && options.blobs ? { meta: options.meta, blobs: options.blobs } : await openEmbeddedStores(config);
  const log = options.logger ?? createLogger(config.logLevel);
  const ctx = createContext(config, stores.meta, stores.blobs, log);
  await recoverCompletions(ctx);
  await recoverFailedCompletions(ctx);
  await recoverStorage(ctx);

  const requestTimeoutMs = config.requestTimeoutSeconds * 1000;
  const idleTimeoutMs = config.idleTimeoutSeconds * 1000;
  const server = createServer(
    {
      requestTimeout: requestTimeoutMs,
      // node:http refuses a headers timeout longer than the request timeout, and enforces both only
      // when it checks its connections (every 30 s by default): keep both in step with the limit.
      headersTimeout: Math.min(60_000, requestTimeoutMs),
      connectionsCheckingInterval: Math.min(30_000, Math.max(100, requestTimeoutMs / 4)),
      // An idle keep-alive connection is governed by this, not by server.timeout: tie it to the idle
      // limit, a little longer so a proxy in front (often 60 s) closes first (65 s by default).
      keepAliveTimeout: idleTimeoutMs + Math.min(5_000, idleTimeoutMs),
    },
    (req, res) => void handle(ctx, req, res),
  );
  server.timeout = idleTimeoutMs;
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => sendClientError(error, socket));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const url = `http://${host}:${port}`;
  const stopSweeper = startSweeper(ctx, config.sweepIntervalSeconds * 1000);
  log.info({ event: 'listening', url, dataDir: config.dataDir, fsync: config.fsync }, `Ferry listening on ${url}`);

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    server,
    ctx,
    sweep: () => sweep(ctx),
    close: () =>
      (closing ??= (async () => {
        await stopSweeper();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        // Close keep-alive connections as they go idle; after a grace period cut what is left
        // (unacknowledged chunks are simply re-sent by their clients).
        const started = Date.now();
        const timer = setInterval(() => {
          if (Date.now() - started > 2_000) server.closeAllConnections();
          else server.closeIdleConnections();
        }, 20);
        server.closeIdleConnections();
        await closed;
        clearInterval(timer);
        await Promise.allSettled([...ctx.completions.values()]);
        await ctx.meta.close();
        await ctx.blobs.close();
      })()),
  };
}

async function handle(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  res.setHeader(Headers.version, String(PROTOCOL_VERSION));
  try {
    const version = req.headers[Headers.version];
    if (version !== undefined && version !== String(PROTOCOL_VERSION)) {
      throw new FerryError('unsupported-version', `This server speaks protocol version ${PROTOCOL_VERSION}.`, {
        supported: [PROTOCOL_VERSION],
      });
    }
    const pathname = requestPath(req.url ?? '/');
    const { handler, params } = route(req.method ?? 'GET', pathname);
    await handler(ctx, req, res, params);
  } catch (error) {
    if (error instanceof FerryError) {
      if (error.code === 'method-not-allowed' && typeof error.extensions.allow === 'string') res.setHeader('allow', error.extensions.allow);
      sendProblem(req, res, error);
      return;
    }
    // The client went away: nothing to answer. (Not req.destroyed: a body read to its end is destroyed too.)
    if (req.socket.destroyed) return;
    if (isStorageFull(error)) {
      ctx.log.warn({ err: error, method: req.method, url: req.url }, 'storage full');
      sendProblem(req, res, new FerryError('insufficient-storage', 'The server is out of storage space; retry later.', { retryAfter: 10 }));
      return;
    }
    ctx.log.error({ err: error, method: req.method, url: req.url }, 'request failed');
    sendProblem(req, res, new FerryError('internal-error', 'The server could not complete the request.'));
  }
}
