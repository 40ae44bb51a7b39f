// Caps on open connections: in all (node's server.maxConnections closes the extra as it is accepted)
// and per client address, so that one client cannot take every connection the server will hold.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { ServerContext } from '../context.js';
import { limitHit } from '../metrics.js';

/** Refusals are logged at most this often per kind: under a flood, one line with a count, not one per socket. */
const logEveryMs = 10_000;

/** The per-address cap when none is configured (none behind a trusted proxy: every peer is the proxy). */
export const DefaultConnectionsPerAddress = 64;

export function connectionsPerAddress(config: ServerContext['config']): number {
  return config.maxConnectionsPerAddress ?? (config.trustProxy ? 0 : DefaultConnectionsPerAddress);
}

export function capConnections(ctx: ServerContext, server: Server): void {
  const { maxConnections } = ctx.config;
  const maxConnectionsPerAddress = connectionsPerAddress(ctx.config);
  const refused = refusalLog(ctx, { connections: maxConnections, 'connections-per-address': maxConnectionsPerAddress });
  server.maxConnections = maxConnections;
  server.on('drop', (data?: { remoteAddress?: string }) => refused('connections', data?.remoteAddress));
  if (maxConnectionsPerAddress <= 0) return;
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const n = open.get(address) ?? 0;
    if (n >= maxConnectionsPerAddress) {
      // Closed before a byte is read: nothing of a request has been taken, so a client may simply retry.
      socket.destroy();
      refused('connections-per-address', address);
      return;
    }
    open.set(address, n + 1);
    socket.once('close', () => {
      const left = open.get(address)! - 1;
      if (left === 0) open.delete(address);
      else open.set(address, left);
    });
  });
}

function refusalLog(ctx: ServerContext, limits: Record<string, number>): (kind: string, address: string | undefined) => void {
  const since = new Map<string, { at: number; count: number }>();
  return (kind, address) => {
    limitHit(ctx, kind);
    const now = Date.now();
    const seen = since.get(kind);
    if (seen && now - seen.at < logEveryMs) {
      seen.count++;
      return;
    }
    since.set(kind, { at: now, count: 0 });
    ctx.log.warn(
      { event: 'connection-refused', limit: kind, remote: address, refusedSinceLastLine: seen?.count ?? 0 },
      `connection refused: ${kind} limit (${limits[kind]})`,
    );
  };
}
