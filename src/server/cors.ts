// CORS: lets the pages of the configured origins call Ferry from the browser (an app's own page
// uploading straight to Ferry with a grant). No cookies are involved, so credentials mode stays off.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Headers } from '../protocol/index.js';

// PATCH is how tus and IETF resumable-upload clients append; OPTIONS is tus's own discovery request.
const allowedMethods = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';

/**
 * Request headers tus 1.0 clients (tus-js-client, Uppy's @uppy/tus) and IETF resumable-upload clients
 * send (draft-ietf-httpbis-resumable-upload: Upload-Complete, or Upload-Incomplete in its older interop
 * versions, and Upload-Draft-Interop-Version). X-HTTP-Method-Override is tus's way through proxies that
 * refuse PATCH; X-Requested-With is what tus-js-client and Uppy may add.
 */
const resumableRequestHeaders = [
  'tus-resumable',
  'upload-length',
  'upload-offset',
  'upload-metadata',
  'upload-defer-length',
  'upload-concat',
  'upload-checksum',
  'x-http-method-override',
  'upload-complete',
  'upload-incomplete',
  'upload-draft-interop-version',
  'x-requested-with',
  'content-disposition', // the file's name on an IETF upload creation
];

/** Response headers those clients read: without them exposed, a page's script sees none of them. */
const resumableExposedHeaders = [
  'tus-resumable',
  'tus-version',
  'tus-extension',
  'tus-max-size',
  'tus-checksum-algorithm',
  'upload-offset',
  'upload-length',
  'upload-metadata',
  'upload-defer-length',
  'upload-concat',
  'upload-expires',
  'upload-complete',
  'upload-incomplete',
  'upload-limit',
  'upload-draft-interop-version',
  'content-location', // where a finished IETF upload's file is
];

const allowedHeaders = [
  'authorization',
  'content-type',
  Headers.contentDigest,
  Headers.version,
  Headers.uploadParams,
  // A page continuing a chunk cut part-way (see docs/protocol.md).
  Headers.chunkOffset,
  'range',
  'if-range',
  'if-none-match',
  ...resumableRequestHeaders,
].join(', ');
const exposedHeaders = [
  'location',
  'etag',
  'retry-after',
  'content-range',
  'content-disposition',
  'www-authenticate',
  'x-request-id', // what a page shows or reports when something fails, to match the server's log
  Headers.reprDigest,
  Headers.version,
  Headers.uploadState,
  Headers.chunksReceived,
  Headers.chunksMissing,
  Headers.uploadExpires,
  ...resumableExposedHeaders,
].join(', ');

/**
 * Adds the CORS headers for an allowed Origin; answers a preflight (OPTIONS with
 * Access-Control-Request-Method) itself. Returns true when the request has been answered.
 */
export function handleCors(origins: readonly string[], req: IncomingMessage, res: ServerResponse): boolean {
  const origin = req.headers.origin;
  const allowed = origin !== undefined && origins.length > 0 && (origins.includes('*') || origins.includes(origin));
  if (allowed) {
    res.setHeader('access-control-allow-origin', origins.includes('*') ? '*' : origin);
    res.setHeader('access-control-expose-headers', exposedHeaders);
  }
  if (origins.length > 0 && !origins.includes('*')) res.setHeader('vary', 'origin');
  if (req.method !== 'OPTIONS' || req.headers['access-control-request-method'] === undefined) return false;
  if (allowed) {
    res.setHeader('access-control-allow-methods', allowedMethods);
    res.setHeader('access-control-allow-headers', allowedHeaders);
    res.setHeader('access-control-max-age', '600');
  }
  res.writeHead(204, { 'cache-control': 'no-store' });
  res.end();
  return true;
}
