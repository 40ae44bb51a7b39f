// Credentials for page tests with auth on: a token-mode server config, grants and API keys, and the
// server's HTTP API called as an identity (to check what the page did, and to make files for it).
import { issueGrant, type GrantScope } from '../../../src/grants/index.js';
import { Headers, MediaTypes, Paths } from '../../../src/protocol/index.js';
import { createApiKey } from '../../../src/server/auth/api-keys.js';
import type { ServerConfigInput } from '../../../src/server/index.js';
import { sha256Field } from '../../helpers/digest.js';
import { call, type Reply } from '../../helpers/http.js';
import type { PageServer } from './page-server.js';

export const grantKey = { kid: 'k1', secret: 'page-test-secret-'.padEnd(40, 'x') };

/** A server that needs a credential for everything but the page and health checks. */
export const tokenMode: ServerConfigInput = { auth: 'token', grantSecrets: [grantKey] };

export function grantFor(identity: string, scope: GrantScope, expiresIn: number | string = '10m'): Promise<string> {
  return issueGrant({ ...grantKey, identity, expiresIn, scope });
}

export async function apiKeyFor(srv: PageServer, identity: string, role: 'user' | 'admin' = 'user'): Promise<string> {
  return (await createApiKey(srv.server.ctx.meta, identity, role, 'page test', Date.now())).key;
}

/** A request to the server (directly, not through the page's proxy) with `token` as the credential. */
export function as(srv: PageServer, token: string, method: string, path: string, body?: unknown): Promise<Reply> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = MediaTypes.json;
  return call(srv.server.url, method, path, { headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

/** Uploads a small file in one request (creation with its only chunk) as `token`; returns its id. */
export async function uploadAs(srv: PageServer, token: string, name: string, data = Buffer.from(`bytes of ${name}`)): Promise<string> {
  const r = await call(srv.server.url, 'POST', Paths.uploads, {
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': MediaTypes.octets,
      [Headers.uploadParams]: Buffer.from(JSON.stringify({ name, size: data.length })).toString('base64url'),
      [Headers.contentDigest]: sha256Field(data),
      'content-length': data.length,
    },
    body: data,
  });
  if (r.status !== 201 || typeof r.body.fileUrl !== 'string') throw new Error(`upload ${name}: ${r.status} ${r.text}`);
  return r.body.fileUrl.split('/').pop() as string;
}
