// Runs a PostgreSQL operation again when it failed for a reason that passes: a serialization failure, a deadlock, a lost connection.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';

/** SQLSTATEs after which the server has rolled the transaction back and trying again may succeed. */
const transientCodes = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '57P01', // admin_shutdown (pg_terminate_backend, a server going down)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, in recovery)
  '53300', // too_many_connections
  '08000', // connection_exception
  '08001', // sqlclient_unable_to_establish_sqlconnection
  '08003', // connection_does_not_exist
  '08004', // sqlserver_rejected_establishment_of_sqlconnection
  '08006', // connection_failure
]);

/** Socket errors a restarted or failed-over server gives; a new connection may succeed. */
const connectionCodes = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/** How pg reports a connection that closed under a query (these errors carry no code). */
const connectionMessages = [/^Connection terminated/, /connection error and is not queryable/, /^Client was closed and is not queryable/];

/** The connection is gone (dropped, refused, or the server ended the session): the client must be discarded. */
export function isConnectionLoss(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return connectionCodes.has(code) || code.startsWith('08') || code.startsWith('57P');
  return connectionMessages.some((m) => m.test(error.message));
}

export function isTransient(error: unknown): boolean {
  if (error instanceof OutcomeUnknownError) return false;
  const code = error instanceof Error ? (error as { code?: unknown }).code : undefined;
  return (typeof code === 'string' && transientCodes.has(code)) || isConnectionLoss(error);
}

/**
 * The connection was lost while a COMMIT was under way: the change may or may not have been made,
 * so it is not tried again (that could make it twice); the caller's own retry decides.
 */
export class OutcomeUnknownError extends Error {
  constructor(cause: unknown) {
    super(`PostgreSQL connection lost during COMMIT, the change may or may not have been made: ${(cause as Error).message}`, { cause });
    this.name = 'OutcomeUnknownError';
  }
}

export interface RetryOptions {
  /** Tries in all (default 5). */
  attempts?: number;
  /** First pause (default 10 ms); each next one three times longer, all jittered ±50 %. */
  baseDelayMs?: number;
  log?: Logger;
}

/** Runs `operation`, and again after a short jittered pause while it fails with a transient error. */
export async function withRetries<T>(operation: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 5;
  const base = options.baseDelayMs ?? 10;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (attempt >= attempts || !isTransient(error)) throw error;
      const delay = base * 3 ** (attempt - 1) * (0.5 + Math.random());
      options.log?.warn(
        { event: 'postgres-retry', attempt, code: (error as { code?: unknown }).code, err: (error as Error).message, delayMs: Math.round(delay) },
        'PostgreSQL operation failed transiently; trying again',
      );
      await sleep(delay);
    }
  }
}
