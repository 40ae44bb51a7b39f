// GET /metrics (Prometheus text, admins; 404 with --metrics-address), /healthz (the process answers),
// /readyz (both stores answer) and /whoami (what the caller's credential stands for): what operators and clients check.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FerryError } from '../../protocol/index.js';
import { requireAdmin } from '../auth/policy.js';
import type { Principal } from '../auth/principal.js';
import type { ServerContext } from '../context.js';
import { sendJson } from '../http.js';
import { checkReadiness } from '../readiness.js';

export async function getMetrics(ctx: ServerContext, _req: IncomingMessage, res: ServerResponse, _params: unknown, who: Principal): Promise<void> {
  // With a metrics address of its own, the public listener does not even say that metrics exist.
  if (ctx.config.metricsAddress) throw new FerryError('not-found', 'Nothing at /metrics.');
  requireAdmin(who);
  const text = await ctx.metrics.render();
  res.writeHead(200, { 'content-type': ctx.metrics.contentType, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function getHealth(_ctx: ServerContext, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  sendJson(res, 200, { status: 'ok' });
}

export async function getReady(ctx: ServerContext, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { ready, checks } = await checkReadiness(ctx);
  if (!ready) {
    // Which store, never why: the reason (host names, driver messages) is in the log, not on a public endpoint.
    const failing = [checks.meta !== 'ok' && 'the metadata store', checks.blobs !== 'ok' && 'the blob store'].filter(Boolean);
    throw new FerryError('service-unavailable', `Not ready: ${failing.join(' and ')} ${failing.length > 1 ? 'do' : 'does'} not answer.`, { checks });
  }
  sendJson(res, 200, { status: 'ready', checks });
}

export async function getWhoami(ctx: ServerContext, _req: IncomingMessage, res: ServerResponse, _params: unknown, who: Principal): Promise<void> {
  sendJson(res, 200, {
    identity: who.identity,
    role: who.role,
    via: who.via,
    auth: ctx.config.auth,
    ...(who.grant && { scope: who.grant.scope, expiresAt: new Date(who.grant.expiresAt).toISOString() }),
  });
}
