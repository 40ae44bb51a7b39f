// Maps method + path to a route handler; unknown paths and methods get problems, not HTML.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FerryError } from '../protocol/index.js';
import type { Principal } from './auth/principal.js';
import type { ServerContext } from './context.js';
import { deleteUpload } from './routes/abort-upload.js';
import { getCapabilities } from './routes/capabilities.js';
import { createUpload } from './routes/create-upload.js';
import { deleteFile, shareFile } from './routes/file-admin.js';
import { getFile, getManifest, listFiles } from './routes/files.js';
import { createKey, listKeys, revokeKey } from './routes/keys.js';
import { getHealth, getMetrics, getReady, getWhoami } from './routes/operations.js';
import { putChunk } from './routes/put-chunk.js';
import { getUploadStatus } from './routes/upload-status.js';
import { getWebAsset, webAssetPattern } from './routes/web.js';
import { tusCreate, tusOptions, tusResource } from './tus/endpoint.js';

type Params = Record<string, string>;
/** A route handler; `who` is the authenticated caller (the anonymous admin in open mode, or on public routes). */
export type Handler = (ctx: ServerContext, req: IncomingMessage, res: ServerResponse, params: any, who: Principal) => Promise<void>;

interface Route {
  /** Stable name of the route: the label of its metrics (never the raw path, which has ids in it). */
  name: string;
  pattern: RegExp;
  methods: Partial<Record<string, Handler>>;
  /** Answered without a credential even in token mode: health checks and the page's static files. */
  public?: true;
  /** Methods answered without a credential on an otherwise protected route (tus OPTIONS). */
  publicMethods?: string[];
}

const routes: Route[] = [
  { name: 'capabilities', pattern: /^\/capabilities$/, methods: { GET: getCapabilities, HEAD: getCapabilities } },
  { name: 'uploads', pattern: /^\/uploads$/, methods: { POST: createUpload } },
  { name: 'upload', pattern: /^\/uploads\/(?<uploadId>[^/]+)$/, methods: { GET: getUploadStatus, HEAD: getUploadStatus, DELETE: deleteUpload } },
  { name: 'chunk', pattern: /^\/uploads\/(?<uploadId>[^/]+)\/chunks\/(?<index>[^/]+)$/, methods: { PUT: putChunk } },
  { name: 'files', pattern: /^\/files$/, methods: { GET: listFiles } },
  { name: 'file', pattern: /^\/files\/(?<fileId>[^/]+)$/, methods: { GET: getFile, HEAD: getFile, DELETE: deleteFile } },
  { name: 'manifest', pattern: /^\/files\/(?<fileId>[^/]+)\/manifest$/, methods: { GET: getManifest } },
  { name: 'share', pattern: /^\/files\/(?<fileId>[^/]+)\/share$/, methods: { POST: shareFile } },
  // tus 1.0 and the IETF resumable-upload draft (told apart by Upload-Draft-Interop-Version).
  { name: 'tus', pattern: /^\/tus\/?$/, methods: { POST: tusCreate, OPTIONS: tusOptions }, publicMethods: ['OPTIONS'] },
  { name: 'tus-upload', pattern: /^\/tus\/(?<uploadId>[^/]+)$/, methods: { HEAD: tusResource, PATCH: tusResource, DELETE: tusResource, POST: tusResource, OPTIONS: tusOptions }, publicMethods: ['OPTIONS'] },
  { name: 'whoami', pattern: /^\/whoami$/, methods: { GET: getWhoami } },
  { name: 'keys', pattern: /^\/keys$/, methods: { GET: listKeys, POST: createKey } },
  { name: 'key', pattern: /^\/keys\/(?<keyId>[^/]+)$/, methods: { DELETE: revokeKey } },
  { name: 'metrics', pattern: /^\/metrics$/, methods: { GET: getMetrics } },
  { name: 'healthz', pattern: /^\/healthz$/, methods: { GET: getHealth }, public: true },
  { name: 'readyz', pattern: /^\/readyz$/, methods: { GET: getReady }, public: true },
  { name: 'web', pattern: webAssetPattern, methods: { GET: getWebAsset, HEAD: getWebAsset }, public: true },
];

export interface Match {
  /** The route's name (see Route). */
  name: string;
  handler: Handler;
  params: Params;
  public: boolean;
}

/** Finds the handler for a request, or throws not-found / method-not-allowed. */
export function route(method: string, pathname: string): Match {
  for (const r of routes) {
    const m = r.pattern.exec(pathname);
    if (!m) continue;
    const handler = r.methods[method];
    if (!handler) {
      throw new FerryError('method-not-allowed', `${method} is not allowed on ${pathname}.`, {
        allow: Object.keys(r.methods).join(', '),
      });
    }
    const params: Params = {};
    for (const [k, v] of Object.entries(m.groups ?? {})) {
      try {
        params[k] = decodeURIComponent(v);
      } catch {
        throw new FerryError('malformed-request', `Bad percent-encoding in the path.`);
      }
    }
    return { name: r.name, handler, params, public: r.public === true || (r.publicMethods?.includes(method) ?? false) };
  }
  throw new FerryError('not-found', `Nothing at ${pathname}.`);
}
