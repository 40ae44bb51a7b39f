// Maps method + path to a route handler; unknown paths and methods get problems, not HTML.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FerryError } from '../protocol/index.js';
import type { ServerContext } from './context.js';
import { deleteUpload } from './routes/abort-upload.js';
import { getCapabilities } from './routes/capabilities.js';
import { createUpload } from './routes/create-upload.js';
import { getFile, getManifest, listFiles } from './routes/files.js';
import { getHealth, getMetrics } from './routes/operations.js';
import { putChunk } from './routes/put-chunk.js';
import { getUploadStatus } from './routes/upload-status.js';
import { getWebAsset, webAssetPattern } from './routes/web.js';

type Params = Record<string, string>;
type Handler = (ctx: ServerContext, req: IncomingMessage, res: ServerResponse, params: any) => Promise<void>;

interface Route {
  pattern: RegExp;
  methods: Partial<Record<string, Handler>>;
}

const routes: Route[] = [
  { pattern: /^\/capabilities$/, methods: { GET: getCapabilities, HEAD: getCapabilities } },
  { pattern: /^\/uploads$/, methods: { POST: createUpload } },
  { pattern: /^\/uploads\/(?<uploadId>[^/]+)$/, methods: { GET: getUploadStatus, HEAD: getUploadStatus, DELETE: deleteUpload } },
  { pattern: /^\/uploads\/(?<uploadId>[^/]+)\/chunks\/(?<index>[^/]+)$/, methods: { PUT: putChunk } },
  { pattern: /^\/files$/, methods: { GET: listFiles } },
  { pattern: /^\/files\/(?<fileId>[^/]+)$/, methods: { GET: getFile, HEAD: getFile } },
  { pattern: /^\/files\/(?<fileId>[^/]+)\/manifest$/, methods: { GET: getManifest } },
  { pattern: /^\/metrics$/, methods: { GET: getMetrics } },
  { pattern: /^\/healthz$/, methods: { GET: getHealth } },
  { pattern: webAssetPattern, methods: { GET: getWebAsset, HEAD: getWebAsset } },
];

export interface Match {
  handler: Handler;
  params: Params;
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
    return { handler, params };
  }
  throw new FerryError('not-found', `Nothing at ${pathname}.`);
}
