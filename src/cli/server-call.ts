// One JSON request to a Ferry server for the management commands (keys, share); any failure is one line.
import { problemFrom } from '../client/engine/http-problem.js';
import { networkError } from '../client/engine/network-failure.js';
import { suggestScheme } from '../client/engine/options.js';
import type { FerryError } from '../protocol/index.js';
import { authHeaders, describeAuthFailure, originOf } from './credentials.js';
import { cliFetch } from './http.js';

/** A failure to report as one line on stderr (no stack trace). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    /** The server's problem, when the server refused the request. */
    readonly problem?: FerryError,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

const timeoutMs = 30_000;

/** `method url` with the token and a JSON body; the parsed JSON answer (null for an empty one). */
export async function callServer(method: string, url: string, token: string | undefined, body?: unknown): Promise<unknown> {
  let res: Response;
  let text: string;
  try {
    res = await cliFetch(url, {
      method,
      headers: { accept: 'application/json', ...authHeaders(token), ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await res.text();
  } catch (e) {
    throw new CliError(`cannot reach ${originOf(url)}: ${networkError(`${method} ${url}`, url, e).message}`);
  }
  if (!res.ok) {
    const problem = problemFrom(res, text);
    throw new CliError(describeAuthFailure(problem, url, Boolean(token)) ?? `${originOf(url)} answered ${res.status}: ${problem.message}`, 1, problem);
  }
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new CliError(`${originOf(url)} answered ${res.status} with something that is not JSON; is it a Ferry server?`);
  }
}

/** Runs a command's action; a CliError (or any other error) becomes `ferry <command>: message`. */
export function action<A extends unknown[]>(command: string, run: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await run(...args);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      process.stderr.write(`ferry ${command}: ${message}\n`);
      process.exitCode = error instanceof CliError ? error.exitCode : 1;
    }
  };
}

/**
 * The base URL of a server (a path prefix kept, the trailing slash dropped). Only http: and https:;
 * "localhost:8080" (which URL reads as scheme "localhost:") is refused with the URL it probably meant.
 */
export function serverBase(server: string): string {
  const raw = server.trim();
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) && !/^[a-z][a-z0-9+.-]*:[^0-9]/i.test(raw)) {
    throw new CliError(`--server ${raw} has no scheme: did you mean ${suggestScheme(raw)}${raw}?`, 2);
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(`--server ${raw} is not a URL (example: http://localhost:8080)`, 2);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError(`--server ${raw}: only http and https URLs are supported`, 2);
  return url.href.replace(/[?#].*$/, '').replace(/\/+$/, '');
}
