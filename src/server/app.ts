// Starts a Ferry server: opens the stores, recovers interrupted completions, serves HTTP, sweeps.
import { mkdir } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { FerryError, Headers, PROTOCOL_VERSION } from '../protocol/index.js';
import { describeMeta, describeStore, parseMetaLocation, parseStoreLocation } from '../stores/locations.js';
import { openStores } from '../stores/open.js';
import { chunkLimits } from './chunk-limits.js';
import type { BlobStore, MetaStore } from '../stores/types.js';
import { authenticate, wwwAuthenticate } from './auth/authenticate.js';
import { openPrincipal, type Principal } from './auth/principal.js';
import { loadShareKey } from './auth/share-links.js';
import { isLoopback, parseServerConfig, type ServerConfigInput } from './config.js';
import { createContext, type ServerContext } from './context.js';
import { handleCors } from './cors.js';
import type { EventListener } from './events.js';
import type { PreCreateHook } from './hooks.js';
import { isStorageFull, loggablePath, requestTarget, sendClientError, sendProblem } from './http.js';
import { createLogger } from './logger.js';
import { watchBodyRate } from './limits/body-rate.js';
import { capConnections } from './limits/connection-cap.js';
import { downloadLimits } from './limits/downloads.js';
import { startMetricsListener } from './metrics-listener.js';
import { observeRequest, trackConnections } from './request-metrics.js';
import { checkRate } from './limits/rate-limiter.js';
import { assignRequestId, errorSummary, RequestIdHeader } from './request-log.js';
import { route } from './router.js';
import { isIetfRequest } from './ietf/handler.js';
import { TusVersion } from './tus/headers.js';
import { startSweeper, sweep, type SweepResult } from './sweeper.js';
import { clientAddress } from './limits/limit-key.js';
import { startWebhookDispatcher } from './webhooks/dispatcher.js';
import { httpPreCreateHook } from './webhooks/pre-create-http.js';

export interface FerryServer {
  /** http://host:port of the listening socket. */
  url: string;
  /** http://host:port of the metrics listener (--metrics-address), when there is one. */
  metricsUrl?: string;
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
  const log = options.logger ?? createLogger(config.logLevel);
  const stores = options.meta && options.blobs ? { meta: options.meta, blobs: options.blobs } : await openStores(config, { log });
  try {
    chunkLimits(config, stores.blobs); // a chunk-size range the blob store cannot hold is a start-up error, not a 500 per create
  } catch (error) {
    await Promise.allSettled([stores.meta.close(), stores.blobs.close()]);
    throw error;
  }
  const ctx = createContext(config, stores.meta, stores.blobs, log);
  ctx.shareKey = await loadShareKey(ctx.meta);
  ctx.grantKeys.push(ctx.shareKey);
  if (options.onEvent) ctx.listeners.push(options.onEvent);
  if (options.preCreate) ctx.preCreate.push(options.preCreate);
  if (config.preCreateHook) ctx.preCreate.push(httpPreCreateHook(config.preCreateHook, config.webhookSecret!, config.webhookTimeoutSeconds * 1000));
  // What a crash left: completions to finish, clean-ups to end, storage to free (one node at a time,
  // under the sweep lease; a node that does not get it leaves the job to the holder). A failure here
  // must not keep a node from serving: the sweeper tries again on its interval.
  await sweep(ctx).catch((err: unknown) => log.error({ err }, 'start-up sweep failed'));

  const requestTimeoutMs = config.requestTimeoutSeconds * 1000;
  const idleTimeoutMs = config.idleTimeoutSeconds * 1000;
  // node:http refuses a headers timeout longer than the request timeout.
  const headersTimeoutMs = Math.min(config.headersTimeoutSeconds * 1000, requestTimeoutMs);
  const server = createServer(
    {
      requestTimeout: requestTimeoutMs,
      // Also what closes a connection that never sends a request (they held ~60 s each before).
      headersTimeout: headersTimeoutMs,
      // node:http enforces both timeouts only when it checks its connections (every 30 s by
      // default): check often enough that a timeout of seconds means seconds.
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, headersTimeoutMs / 4)),
      // An idle keep-alive connection is governed by this, not by server.timeout: its own option,
      // seconds by default (behind a proxy, set it above the proxy's upstream keep-alive), and never
      // longer than the idle limit.
      keepAliveTimeout: Math.min(config.keepAliveTimeoutSeconds, config.idleTimeoutSeconds) * 1000,
    },
    (req, res) => {
      watchBodyRate(ctx, req, res);
      void handle(ctx, req, res);
    },
  );
  server.timeout = idleTimeoutMs;
  capConnections(ctx, server);
  downloadLimits(ctx); // made now, so its gauges are on /metrics from the start
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => sendClientError(error, socket));
  trackConnections(ctx.metrics, server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  }).catch(async (error: unknown) => {
    // An embedding application gets its pools and sockets back, not just the error.
    await Promise.allSettled([ctx.meta.close(), ctx.blobs.close()]);
    throw error;
  });
  const port = (server.address() as AddressInfo).port;
  const metricsListener = config.metricsAddress
    ? await startMetricsListener(ctx, config.metricsAddress).catch((error: unknown) => {
        server.close();
        throw error;
      })
    : undefined;
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (!config.publicUrl) ctx.baseUrl = url;
  const stopSweeper = startSweeper(ctx, config.sweepIntervalSeconds * 1000);
  const stopWebhooks = startWebhookDispatcher(ctx);
  log.info(
    { event: 'listening', url, address: config.host, port, auth: config.auth, dataDir: config.dataDir, meta: describeMeta(parseMetaLocation(config.meta)), store: describeStore(parseStoreLocation(config.store)), fsync: config.fsync, metricsUrl: metricsListener?.url },
    `Ferry listening on ${url} (address ${config.host}, auth ${config.auth})`,
  );
  if (config.auth === 'open' && !isLoopback(config.host)) {
    log.warn({ event: 'open-on-public-address', address: config.host }, 'auth is open on a non-loopback address: anyone who can reach it can read and fill this server');
  }
  if (!isLoopback(config.host) && !config.publicUrl && !config.trustProxy) {
    // Links never take a Host the server does not know as its own: clients that reach it by another name need this.
    log.warn({ event: 'no-public-url', address: config.host }, `no --public-url: links in responses name this machine (${url}); set --public-url to the address clients use`);
  }

  let closing: Promise<void> | undefined;
  return {
    url,
    ...(metricsListener && { metricsUrl: metricsListener.url }),
    port,
    server,
    ctx,
    sweep: () => sweep(ctx),
    close: () =>
      (closing ??= (async () => {
        await stopSweeper();
        await stopWebhooks();
        await metricsListener?.close();
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

/**
 * The caller. A refused credential costs its client address a token of the rate limit, as an
 * accepted one costs its identity: guessing keys or replaying expired grants is throttled too.
 */
async function authenticated(ctx: ServerContext, req: IncomingMessage, query: URLSearchParams): Promise<Principal> {
  try {
    return await authenticate(ctx, req, query, ctx.grantKeys);
  } catch (error) {
    if (error instanceof FerryError && error.status === 401) checkRate(ctx, req, openPrincipal);
    throw error;
  }
}

async function handle(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const observed = observeRequest(ctx, req, res);
  const requestId = assignRequestId(req, ctx.config.trustProxy);
  res.setHeader(RequestIdHeader, requestId);
  res.setHeader(Headers.version, String(PROTOCOL_VERSION));
  try {
    // First, so that every answer after it (a version mismatch too) is readable by an allowed page.
    if (handleCors(ctx.config.corsOrigins, req, res)) return;
    const version = req.headers[Headers.version];
    if (version !== undefined && version !== String(PROTOCOL_VERSION)) {
      throw new FerryError('unsupported-version', `This server speaks protocol version ${PROTOCOL_VERSION}.`, {
        supported: [PROTOCOL_VERSION],
      });
    }
    const { pathname, query } = requestTarget(req.url ?? '/');
    // tus answers say their version on every response but OPTIONS, refusals before the route too (401, 429).
    if (pathname.startsWith('/tus') && req.method !== 'OPTIONS' && !isIetfRequest(req)) res.setHeader('tus-resumable', TusVersion);
    const match = route(req.method ?? 'GET', pathname);
    observed.route = match.name;
    const who = match.public ? openPrincipal : await authenticated(ctx, req, query);
    if (!match.public) checkRate(ctx, req, who);
    await match.handler(ctx, req, res, match.params, who);
  } catch (error) {
    observed.fail(error);
    if (error instanceof FerryError) {
      if (error.code === 'method-not-allowed' && typeof error.extensions.allow === 'string') res.setHeader('allow', error.extensions.allow);
      if (error.status === 401 || error.status === 403) {
        if (error.status === 401 && !res.headersSent) res.setHeader('www-authenticate', wwwAuthenticate(error));
        // Refused credentials are what an operator looks for after an incident.
        ctx.metrics.inc('ferry_requests_refused_total', 1, { code: error.code });
        ctx.log.info(
          { event: 'refused', requestId, code: error.code, method: req.method, url: loggablePath(req.url), remote: clientAddress(req, ctx.config.trustProxy) },
          `refused: ${error.code}`,
        );
      }
      sendProblem(req, res, error);
      return;
    }
    // The client went away: nothing to answer. (Not req.destroyed: a body read to its end is destroyed too.)
    if (req.socket.destroyed) return;
    if (isStorageFull(error)) {
      ctx.log.warn({ event: 'storage-full', requestId, method: req.method, url: loggablePath(req.url), error: errorSummary(error) }, 'storage full');
      sendProblem(req, res, new FerryError('insufficient-storage', 'The server is out of storage space; retry later.', { retryAfter: 10 }));
      return;
    }
    // The line an operator matches with the client's answer (its requestId and instance); the stack,
    // with the server's absolute paths, only at debug level.
    ctx.log.error({ event: 'request-failed', requestId, code: 'internal-error', method: req.method, url: loggablePath(req.url), error: errorSummary(error) }, 'request failed');
    ctx.log.debug({ event: 'request-failed', requestId, err: error }, 'request failed: stack');
    sendProblem(req, res, new FerryError('internal-error', 'The server could not complete the request.'));
  }
}
