// Turns a failure to reach or log in to PostgreSQL into one line an operator can act on, never showing the password.
import pg from 'pg';

/** Where a connection URL points, with the defaults pg applies (PG* variables, then its own). */
export interface PostgresTarget {
  host: string;
  port: number;
  user: string;
  database: string;
}

export function targetOf(url: string): PostgresTarget {
  // pg's own reading of the URL (an unconnected client), so the names match what it will try.
  const c = new pg.Client({ connectionString: url });
  return { host: c.host, port: c.port, user: c.user ?? '', database: c.database ?? '' };
}

const unreachable = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EPIPE']);

/**
 * One clear line for errors that say the database cannot be used at all (unreachable, login
 * refused, no such database); null for anything else (the error is then worth showing as it is).
 */
export function explainConnectionError(error: unknown, t: PostgresTarget): string | null {
  if (!(error instanceof Error)) return null;
  const code = (error as { code?: unknown }).code;
  const at = `${t.host}:${t.port}`;
  if (typeof code === 'string' && unreachable.has(code)) return `cannot reach PostgreSQL at ${at}: ${code}`;
  if (/timeout/i.test(error.message) && /connect/i.test(error.message)) return `cannot reach PostgreSQL at ${at}: timed out connecting`;
  if (/^Connection terminated/.test(error.message)) return `cannot reach PostgreSQL at ${at}: the connection was closed (${error.message})`;
  if (code === '28P01' || code === '28000') return `PostgreSQL at ${at} refused the login for user ${t.user} (${error.message})`;
  if (/^SASL: .*password must be a string/.test(error.message)) return `PostgreSQL at ${at} asked for a password for user ${t.user}, and none was given`;
  if (code === '3D000') return `database ${t.database} does not exist on PostgreSQL at ${at}`;
  if (code === '57P03') return `PostgreSQL at ${at} is not accepting connections yet (${error.message})`;
  return null;
}

/** `error` with its message made one clear line when it is a connection or login failure; else unchanged. */
export function connectionError(error: unknown, t: PostgresTarget): unknown {
  const line = explainConnectionError(error, t);
  return line === null ? error : new Error(line, { cause: error });
}
