// Whom a limit counts a request against: its identity, or its client's address where there is none.
import type { IncomingMessage } from 'node:http';
import type { Principal } from '../auth/principal.js';

/** Open mode makes everyone 'anonymous', so there the client's address stands for the identity. */
export function quotaKey(who: Principal, req: IncomingMessage, trustProxy: boolean): string {
  return who.via === 'open' ? addressKey(req, trustProxy) : who.identity;
}

/**
 * The request-rate key. A grant's holders are counted per address too: a share link is opened by many
 * people at once, and an application hands out grants for one identity to many users.
 */
export function rateKey(who: Principal, req: IncomingMessage, trustProxy: boolean): string {
  if (who.via === 'open') return addressKey(req, trustProxy);
  return who.via === 'grant' ? `${who.identity} ${addressKey(req, trustProxy)}` : who.identity;
}

function addressKey(req: IncomingMessage, trustProxy: boolean): string {
  return `address:${clientAddress(req, trustProxy)}`;
}

/**
 * The client's address. Behind a trusted proxy every connection comes from the proxy: the client is
 * the last X-Forwarded-For entry, the one the proxy itself appended (earlier entries are the
 * client's own say, and anyone can write them).
 */
export function clientAddress(req: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const header = req.headers['x-forwarded-for'];
    const last = (Array.isArray(header) ? header.join(',') : header ?? '').split(',').pop()?.trim();
    if (last && /^[0-9A-Fa-f.:]{2,45}$/.test(last)) return last;
  }
  return req.socket.remoteAddress ?? 'unknown';
}
