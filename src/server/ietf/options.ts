// OPTIONS on the endpoint or an upload resource: the limits a draft client may discover before creating.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServerContext } from '../context.js';
import { IetfFields, partialUploadType } from './fields.js';
import { serverLimit } from './limits.js';
import { supportedInteropVersions } from './versions.js';

/**
 * 204 with Upload-Limit (-05 requires it on OPTIONS to a target that creates uploads), the interop
 * version (the request's when spoken here, else the newest), and Accept-Patch for the append media type.
 */
export async function ietfOptionsAnswer(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const asked = Number(String(req.headers[IetfFields.interopVersion] ?? '').trim());
  const version = supportedInteropVersions.includes(asked) ? asked : Math.max(...supportedInteropVersions);
  res.writeHead(204, {
    [IetfFields.limit]: serverLimit(ctx),
    [IetfFields.interopVersion]: String(version),
    'accept-patch': partialUploadType,
    'cache-control': 'no-store',
  });
  res.end();
}
