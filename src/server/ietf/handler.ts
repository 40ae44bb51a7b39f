// The IETF resumable-upload draft (draft-ietf-httpbis-resumable-upload, interop versions 3-6) on /tus/:
// what the router hands over when a request carries Upload-Draft-Interop-Version.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FerryError } from '../../protocol/index.js';
import type { Principal } from '../auth/principal.js';
import type { ServerContext } from '../context.js';
import { appendIetf } from './append.js';
import { cancelIetfUpload } from './cancel.js';
import { createIetfUpload } from './create.js';
import { IetfFields } from './fields.js';
import { retrieveIetfOffset } from './offset.js';
import { ietfOptionsAnswer } from './options.js';

/** A draft request: it names an interop version (whether this server speaks it is checked by the route). */
export function isIetfRequest(req: IncomingMessage): boolean {
  return req.headers[IetfFields.interopVersion] !== undefined;
}

/** The method meant: tus clients behind PATCH-refusing proxies send POST with X-HTTP-Method-Override. */
function methodOf(req: IncomingMessage): string {
  const override = req.headers['x-http-method-override'];
  if (req.method === 'POST' && typeof override === 'string' && override.trim()) return override.trim().toUpperCase();
  return req.method ?? 'GET';
}

/** POST /tus/: upload creation. */
export async function ietfCreate(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, who: Principal): Promise<void> {
  const method = req.method ?? 'GET';
  if (method === 'OPTIONS') return ietfOptions(ctx, req, res);
  if (method !== 'POST') throw new FerryError('method-not-allowed', `${method} is not allowed on the upload endpoint.`, { allow: 'POST, OPTIONS' });
  await createIetfUpload(ctx, req, res, who);
}

/** HEAD / PATCH / DELETE /tus/{id}: offset retrieval, append, cancellation. */
export async function ietfResource(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, uploadId: string, who: Principal): Promise<void> {
  switch (methodOf(req)) {
    case 'HEAD':
      return retrieveIetfOffset(ctx, req, res, uploadId, who);
    case 'PATCH':
      return appendIetf(ctx, req, res, uploadId, who);
    case 'DELETE':
      return cancelIetfUpload(ctx, req, res, uploadId, who);
    case 'OPTIONS':
      return ietfOptions(ctx, req, res);
    default:
      throw new FerryError('method-not-allowed', `${methodOf(req)} is not allowed on an upload resource.`, { allow: 'HEAD, PATCH, DELETE, OPTIONS' });
  }
}

/** OPTIONS on either: Upload-Limit and the interop version. */
export async function ietfOptions(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  await ietfOptionsAnswer(ctx, req, res);
}
