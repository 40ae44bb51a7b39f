// The --token option (FERRY_TOKEN) and one clear line for each way a server can refuse a credential.
import { Option } from 'commander';
import { FerryError } from '../protocol/index.js';
import { sentence } from './format.js';

export function tokenOption(): Option {
  return new Option('--token <token>', 'API key or grant, sent as "Authorization: Bearer <token>"').env('FERRY_TOKEN');
}

/** The Authorization header for `token`, or none. */
export function authHeaders(token: string | undefined): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** Whether `url` carries its own credential (a share link's ?grant=): then no token is added to it. */
export function hasLinkGrant(url: string): boolean {
  try {
    return new URL(url).searchParams.has('grant');
  } catch {
    return false;
  }
}

/** scheme://host:port of a URL, for messages (a share link's grant stays out of them). */
export function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

/**
 * The token given for `server` (--token, FERRY_TOKEN) is sent to that server's origin only: an upload
 * this machine remembers may live on another server, which must not see it.
 */
export function tokenFor(url: string, server: string, token: string | undefined): string | undefined {
  return token !== undefined && originOf(url) === originOf(server) ? token : undefined;
}


/**
 * The line to print when `error` is a 401 or 403 from `target`, else null. `hadToken`: whether a
 * credential was sent (a bare 401 then means it was rejected rather than missing).
 */
export function describeAuthFailure(error: unknown, target: string, hadToken: boolean): string | null {
  if (!(error instanceof FerryError) || (error.status !== 401 && error.status !== 403)) return null;
  const server = originOf(target);
  const detail = sentence(error.message);
  if (error.status === 401) {
    const rejected = error.code === 'invalid-credential' || error.code === 'credential-expired' || hadToken;
    return rejected ? `${server} rejected the credential: ${detail}` : `${server} needs a credential: pass --token or set FERRY_TOKEN.`;
  }
  if (error.code === 'upload-refused') return `${server} refused the upload: ${detail}`;
  return `${server}: the credential does not allow this: ${detail}`;
}

/** The FerryError behind a client error (UploadError/DownloadError keep it as `problem`). */
export function problemOf(error: unknown): FerryError | null {
  if (error instanceof FerryError) return error;
  const problem = (error as { problem?: unknown } | null)?.problem;
  return problem instanceof FerryError ? problem : null;
}
