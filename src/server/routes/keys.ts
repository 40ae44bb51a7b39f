// /keys: API keys, managed by admins over HTTP (the CLI can also manage them in the data directory).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { DefaultLimits, FerryError } from '../../protocol/index.js';
import { createApiKey, describeKey } from '../auth/api-keys.js';
import { requireAdmin } from '../auth/policy.js';
import type { Principal } from '../auth/principal.js';
import type { ServerContext } from '../context.js';
import { readJsonBody, sendJson } from '../http.js';

/** An identity: what owns uploads and files, and what grants name in `sub`. */
export const IdentityText = z.string().min(1).max(200).regex(/^[^\u0000-\u001f\u007f]+$/, 'no control characters');

const CreateKeyRequest = z
  .object({
    identity: IdentityText,
    role: z.enum(['user', 'admin']).default('user'),
    label: z.string().max(200).default(''),
  })
  .strict();

export async function createKey(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, _params: unknown, who: Principal): Promise<void> {
  requireAdmin(who);
  const parsed = CreateKeyRequest.safeParse(await readJsonBody(req, DefaultLimits.maxCreateBodyBytes));
  if (!parsed.success) {
    throw new FerryError('malformed-request', `Invalid key request: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`);
  }
  const { identity, role, label } = parsed.data;
  const made = await createApiKey(ctx.meta, identity, role, label, ctx.now());
  ctx.log.info({ event: 'key-created', keyId: made.record.id, identity, role, by: who.identity }, 'API key created');
  sendJson(res, 201, { ...describeKey(made.record), key: made.key });
}

export async function listKeys(ctx: ServerContext, _req: IncomingMessage, res: ServerResponse, _params: unknown, who: Principal): Promise<void> {
  requireAdmin(who);
  sendJson(res, 200, { keys: (await ctx.meta.listApiKeys()).map(describeKey) });
}

export async function revokeKey(ctx: ServerContext, _req: IncomingMessage, res: ServerResponse, params: { keyId: string }, who: Principal): Promise<void> {
  requireAdmin(who);
  if (!(await ctx.meta.revokeApiKey(params.keyId, ctx.now()))) {
    const key = await ctx.meta.getApiKey(params.keyId);
    if (!key) throw new FerryError('key-not-found', `No API key ${params.keyId}.`);
  }
  ctx.log.info({ event: 'key-revoked', keyId: params.keyId, by: who.identity }, 'API key revoked');
  res.writeHead(204, { 'cache-control': 'no-store' });
  res.end();
}
