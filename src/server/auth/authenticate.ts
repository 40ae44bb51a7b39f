// Turns a request's credential (Authorization: Bearer, or ?grant= on a link) into a Principal.
import type { IncomingMessage } from 'node:http';
import { GrantError, looksLikeGrant, verifyGrant, type GrantKey } from '../../grants/index.js';
import { FerryError } from '../../protocol/index.js';
import type { ServerContext } from '../context.js';
import { checkApiKey } from './api-keys.js';
import { openPrincipal, type Principal } from './principal.js';

/** The query parameter a share link (or a page's download link) carries its grant in. */
export const GrantParam = 'grant';

/**
 * The caller, or throws: unauthenticated (token mode, no credential), invalid-credential,
 * credential-expired. In open mode a request without a credential is the anonymous admin; one with a
 * credential is checked all the same (so its uploads are owned by its identity).
 */
export async function authenticate(ctx: ServerContext, req: IncomingMessage, query: URLSearchParams, keys: readonly GrantKey[]): Promise<Principal> {
  const credential = credentialOf(req, query);
  if (credential === null) {
    if (ctx.config.auth === 'open') return openPrincipal;
    throw new FerryError('unauthenticated', 'This server needs a credential: an API key or a grant as "Authorization: Bearer <token>".');
  }
  if (credential.kind === 'bearer' && !looksLikeGrant(credential.token)) {
    const key = await checkApiKey(ctx.meta, credential.token);
    if (!key) throw new FerryError('invalid-credential', 'The API key is unknown or revoked.');
    return { identity: key.identity, role: key.role, via: 'key', keyId: key.id };
  }
  try {
    const grant = await verifyGrant(credential.token, keys, ctx.now());
    return { identity: grant.identity, role: 'user', via: 'grant', grant };
  } catch (error) {
    if (error instanceof GrantError && error.reason === 'expired') throw new FerryError('credential-expired', 'The grant or link has expired; ask for a new one.');
    throw new FerryError('invalid-credential', error instanceof GrantError ? error.message : 'The grant is not valid.');
  }
}

function credentialOf(req: IncomingMessage, query: URLSearchParams): { kind: 'bearer' | 'link'; token: string } | null {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer[ ]+([A-Za-z0-9._~+/-]+=*)\s*$/i.exec(header);
    if (!m) throw new FerryError('invalid-credential', 'Authorization must be "Bearer <API key or grant>".');
    return { kind: 'bearer', token: m[1]! };
  }
  // Only grants travel in URLs (short-lived, narrow); an API key in a query string would end up in logs.
  const fromLink = query.get(GrantParam);
  if (fromLink !== null) {
    if (!looksLikeGrant(fromLink)) throw new FerryError('invalid-credential', `The ${GrantParam} parameter is not a grant (API keys go in the Authorization header).`);
    return { kind: 'link', token: fromLink };
  }
  return null;
}

/** The WWW-Authenticate value for a 401 (RFC 6750). */
export function wwwAuthenticate(error: FerryError): string {
  if (error.code === 'unauthenticated') return 'Bearer realm="ferry"';
  const description = error.message.replace(/["\\]/g, "'");
  return `Bearer realm="ferry", error="invalid_token", error_description="${description}"`;
}
