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

type Params = Record<string, string>;
/** A route handler; `who` is the authenticated caller (the anonymous admin in open mode, or on public routes). */
export type Handler = (ctx: ServerContext, req: IncomingMessage, res: ServerResponse, params: any, who: Principal) => Promise<void>;

interface Route {
  pattern: RegExp;
  methods: Partial<Record<string, Handler>>;
  /** Answered without a credential even in token mode: health checks and the page's static files. */
  public?: true;
}

const routes: Route[] = [
  { pattern: /^\/capabilities$/, methods: { GET: getCapabilities, HEAD: getCapabilities } },
  { pattern: /^\/uploads$/, methods: { POST: createUpload } },
  { pattern: /^\/uploads\/(?<uploadId>[^/]+)$/, methods: { GET: getUploadStatus, HEAD: getUploadStatus, DELETE: deleteUpload } },
  { pattern: /^\/uploads\/(?<uploadId>[^/]+)\/chunks\/(?<index>[^/]+)$/, methods: { PUT: putChunk } },
  { pattern: /^\/files$/, methods: { GET: listFiles } },
  { pattern: /^\/files\/(?<fileId>[^/]+)$/, methods: { GET: getFile, HEAD: getFile, DELETE: deleteFile } },
  { pattern: /^\/files\/(?<fileId>[^/]+)\/manifest$/, methods: { GET: getManifest } },
  { pattern: /^\/files\/(?<fileId>[^/]+)\/share$/, methods: { POST: shareFile } },
  { pattern: /^\/whoami$/, methods: { GET: getWhoami } },
  { pattern: /^\/keys$/, methods: { GET: listKeys, POST: createKey } },
  { pattern: /^\/keys\/(?<keyId>[^/]+)$/, methods: { DELETE: revokeKey } },
  { pattern: /^\/metrics$/, methods: { GET: getMetrics } },
  { pattern: /^\/healthz$/, methods: { GET: getHealth }, public: true },
  { pattern: /^\/readyz$/, methods: { GET: getReady }, public: true },
  { pattern: webAssetPattern, methods: { GET: getWebAsset, HEAD: getWebAsset }, public: true },
];

export interface Match {
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
    return { handler, params, public: r.public === true };
  }
  throw new FerryError('not-found', `Nothing at ${pathname}.`);
}
