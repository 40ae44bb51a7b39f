// Ties a log line to an answer: a request id per request, and errors logged without their stack traces.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The header that carries the request id, both ways. */
export const RequestIdHeader = 'x-request-id';

/** An id a proxy may hand us: short, and nothing a log line or a header would need to escape. */
const saneId = /^[A-Za-z0-9._:+/=-]{1,128}$/;

const requestIds = new WeakMap<IncomingMessage, string>();

/**
 * Gives `req` its id: the one a trusted proxy sent (so its logs and ours agree), else a fresh one. An
 * untrusted client's id is ignored: it could otherwise pass itself off as another request in the logs.
 */
export function assignRequestId(req: IncomingMessage, trustProxy: boolean): string {
  const given = trustProxy ? req.headers[RequestIdHeader] : undefined;
  const id = typeof given === 'string' && saneId.test(given) ? given : randomUUID();
  requestIds.set(req, id);
  return id;
}

/** The id given to `req` (undefined for a request that never reached the handler). */
export function requestIdOf(req: IncomingMessage): string | undefined {
  return requestIds.get(req);
}

/**
 * What an operator needs from an unexpected error at info to error level: its kind, message and code.
 * The stack (absolute paths, the code's layout) is for debug level only.
 */
export function errorSummary(error: unknown): { type: string; message: string; code?: string } {
  if (!(error instanceof Error)) return { type: typeof error, message: String(error) };
  const code = (error as { code?: unknown }).code;
  return { type: error.name, message: error.message, ...(typeof code === 'string' && { code }) };
}
