// Whom a limit counts a request against: its identity, or its client's address where there is none.
import type { IncomingMessage } from 'node:http';
import type { Principal } from '../auth/principal.js';

/** Open mode makes everyone 'anonymous', so there the client's address stands for the identity. */
export function quotaKey(who: Principal, req: IncomingMessage): string {
  return who.via === 'open' ? addressKey(req) : who.identity;
}

/**
 * The request-rate key. A grant's holders are counted per address too: a share link is opened by many
 * people at once, and an application hands out grants for one identity to many users.
 */
export function rateKey(who: Principal, req: IncomingMessage): string {
  if (who.via === 'open') return addressKey(req);
  return who.via === 'grant' ? `${who.identity} ${addressKey(req)}` : who.identity;
}

function addressKey(req: IncomingMessage): string {
  return `address:${req.socket.remoteAddress ?? 'unknown'}`;
}
