// Starts a Ferry server: opens the stores, recovers interrupted completions, serves HTTP, sweeps.
import { mkdir } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { FerryError, Headers, PROTOCOL_VERSION } from '../protocol/index.js';
import { openEmbeddedStores } from '../stores/embedded.js';
import type { BlobStore, MetaStore } from '../stores/types.js';
import { recoverCompletions } from './completion.js';
import { parseServerConfig, type ServerConfigInput } from './config.js';
import { createContext, type ServerContext } from './context.js';
import { sendProblem } from './http.js';
import { createLogger } from './logger.js';
import { route } from './router.js';
import { startSweeper, sweep, type SweepResult } from './sweeper.js';

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

  const server = createServer(
    {
      requestTimeout: config.requestTimeoutSeconds * 1000,
      headersTimeout: 60_000,
      keepAliveTimeout: 65_000,
    },
    (req, res) => void handle(ctx, req, res),
  );
  server.timeout = config.idleTimeoutSeconds * 1000;
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
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    const { handler, params } = route(req.method ?? 'GET', pathname);
    await handler(ctx, req, res, params);
  } catch (error) {
    if (error instanceof FerryError) {
      if (error.code === 'method-not-allowed' && typeof error.extensions.allow === 'string') res.setHeader('allow', error.extensions.allow);
      sendProblem(req, res, error);
      return;
    }
    if (req.destroyed || res.destroyed) return; // the client went away; nothing to answer
    const code = (error as { code?: unknown }).code;
    if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT') {
      ctx.log.warn({ err: error, method: req.method, url: req.url }, 'storage full');
      sendProblem(req, res, new FerryError('insufficient-storage', 'The server is out of storage space; retry later.', { retryAfter: 10 }));
      return;
    }
    ctx.log.error({ err: error, method: req.method, url: req.url }, 'request failed');
    sendProblem(req, res, new FerryError('internal-error', 'The server could not complete the request.'));
  }
}
