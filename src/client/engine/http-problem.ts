// A non-2xx HTTP answer as the FerryError it stands for: the server's problem+json, or a bare status
// (from a proxy, a plain web server) mapped to the nearest problem code. Uploads and downloads share it.
import { FerryError, type ProblemCode } from '../../protocol/index.js';

// A standard HTTP field (not the protocol's own, so not in its Headers table).
const RetryAfter = 'retry-after';

const codeForStatus: Record<number, ProblemCode> = {
  400: 'malformed-request',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not-found',
  405: 'method-not-allowed',
  408: 'request-timeout',
  413: 'body-too-large',
  415: 'unsupported-media-type',
  502: 'service-unavailable',
  503: 'service-unavailable',
  504: 'service-unavailable',
  507: 'insufficient-storage',
};

/** The FerryError a non-2xx response stands for (problem+json, or a bare status from a proxy). */
export function problemFrom(res: Response, text: string): FerryError {
  const retryAfter = res.headers.get(RetryAfter);
  const extra = retryAfter === null ? {} : { retryAfter };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (typeof body === 'object' && body !== null && typeof (body as { type?: unknown }).type === 'string') {
    return FerryError.fromProblem({ ...(body as Record<string, unknown>), ...extra }, res.status);
  }
  const detail = `HTTP ${res.status} ${res.statusText}`.trim() + (text ? `: ${text.slice(0, 200)}` : '');
  return new FerryError(codeForStatus[res.status] ?? 'internal-error', detail, extra, res.status);
}
