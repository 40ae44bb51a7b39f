// Starts a Ferry server: opens the stores, recovers interrupted completions, serves HTTP, sweeps.
import { mkdir } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { FerryError, Headers, PROTOCOL_VERSION } from '../protocol/index.js';
import { openEmbeddedStores } from '../stores/embedded.js';
import type { BlobStore, MetaStore } from '../stores/types.js';
import { authenticate, wwwAuthenticate } from './auth/authenticate.js';
import { openPrincipal } from './auth/principal.js';
import { loadShareKey } from './auth/share-links.js';
import { recoverCompletions, recoverFailedCompletions } from './completion.js';
import { isLoopback, parseServerConfig, type ServerConfigInput } from './config.js';
import { createContext, type ServerContext } from './context.js';
import { handleCors } from './cors.js';
import type { EventListener } from './events.js';
import type { PreCreateHook } from './hooks.js';
import { isStorageFull, loggablePath, requestTarget, sendClientError, sendProblem } from './http.js';
import { createLogger } from './logger.js';
import { route } from './router.js';
import { startSweeper, sweep, type SweepResult } from './sweeper.js';
import { recoverStorage } from './upload-lifecycle.js';
import { startWebhookDispatcher } from './webhooks/dispatcher.js';
import { httpPreCreateHook } from './webhooks/pre-create-http.js';

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
  /** Told of every upload and file event (created, completed, failed, expired, aborted, deleted). */
  onEvent?: EventListener;
  /** Asked before every upload is created: may refuse it or replace its metadata. */
  preCreate?: PreCreateHook;
}

export async function startServer(input: ServerConfigInput = {}, options: StartOptions = {}): Promise<FerryServer> {
  const config = parseServerConfig(input);
  await mkdir(config.dataDir, { recursive: true });
  const stores = options.meta && options.blobs ? { meta: options.meta, blobs: options.blobs } : await openEmbeddedStores(config);
  const log = options.logger ?? createLogger(config.logLevel);
  const ctx = createContext(config, stores.meta, stores.blobs, log);
  ctx.shareKey = await loadShareKey(ctx.meta);
  ctx.grantKeys.push(ctx.shareKey);
  if (options.onEvent) ctx.listeners.push(options.onEvent);
  if (options.preCreate) ctx.preCreate.push(options.preCreate);
  if (config.preCreateHook) ctx.preCreate.push(httpPreCreateHook(config.preCreateHook, config.webhookSecret!, config.webhookTimeoutSeconds * 1000));
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
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (!config.publicUrl) ctx.baseUrl = url;
  const stopSweeper = startSweeper(ctx, config.sweepIntervalSeconds * 1000);
  const stopWebhooks = startWebhookDispatcher(ctx);
  log.info(
    { event: 'listening', url, address: config.host, port, auth: config.auth, dataDir: config.dataDir, fsync: config.fsync },
    `Ferry listening on ${url} (address ${config.host}, auth ${config.auth})`,
  );
  if (config.auth === 'open' && !isLoopback(config.host)) {
    log.warn({ event: 'open-on-public-address', address: config.host }, 'auth is open on a non-loopback address: anyone who can reach it can read and fill this server');
  }

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
        await stopWebhooks();
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
    if (handleCors(ctx.config.corsOrigins, req, res)) return;
    const { pathname, query } = requestTarget(req.url ?? '/');
    const match = route(req.method ?? 'GET', pathname);
    const who = match.public ? openPrincipal : await authenticate(ctx, req, query, ctx.grantKeys);
    await match.handler(ctx, req, res, match.params, who);
  } catch (error) {
    if (error instanceof FerryError) {
      if (error.code === 'method-not-allowed' && typeof error.extensions.allow === 'string') res.setHeader('allow', error.extensions.allow);
      if (error.status === 401 || error.status === 403) {
        if (error.status === 401 && !res.headersSent) res.setHeader('www-authenticate', wwwAuthenticate(error));
        // Refused credentials are what an operator looks for after an incident (and what rate limits will count).
        ctx.metrics.inc('ferry_requests_refused_total', 1, { code: error.code });
        ctx.log.info(
          { event: 'refused', code: error.code, method: req.method, url: loggablePath(req.url), remote: req.socket.remoteAddress },
          `refused: ${error.code}`,
        );
      }
      sendProblem(req, res, error);
      return;
    }
    // The client went away: nothing to answer. (Not req.destroyed: a body read to its end is destroyed too.)
    if (req.socket.destroyed) return;
    if (isStorageFull(error)) {
      ctx.log.warn({ err: error, method: req.method, url: loggablePath(req.url) }, 'storage full');
      sendProblem(req, res, new FerryError('insufficient-storage', 'The server is out of storage space; retry later.', { retryAfter: 10 }));
      return;
    }
    ctx.log.error({ err: error, method: req.method, url: loggablePath(req.url) }, 'request failed');
    sendProblem(req, res, new FerryError('internal-error', 'The server could not complete the request.'));
  }
}
