// What the page's credential lets it offer (from GET /whoami): which buttons to show, and how a
// download link carries the credential. Pure, so it is unit-tested; the server enforces all of it anyway.
import { credentialKind } from './credential.js';
import type { Whoami } from './server-api.js';

export interface Access {
  /** 'open': no credential on an open server; 'key': an API key; 'grant': a signed grant. */
  via: 'open' | 'key' | 'grant';
  /** The grant itself, when via is 'grant'. */
  grant: string | null;
  /** May list the identity's files. */
  listFiles: boolean;
  /** May delete files and make share links. */
  changeFiles: boolean;
  /** May create uploads. */
  upload: boolean;
  /** Grant scope `read`: these files may be downloaded whoever owns them. */
  readable: readonly string[];
  /** Sees every identity's files (an admin key, or everyone on an open server). */
  admin: boolean;
}

/**
 * `who` is null when the server could not be asked: then everything is offered (and refused by the
 * server if it must be), as the page did before it knew about credentials.
 */
export function accessOf(who: Whoami | null, credential: string | null): Access {
  const via = who?.via ?? (credential ? credentialKind(credential) : 'open');
  const admin = via === 'open' || who?.role === 'admin';
  if (via !== 'grant') return { via, grant: null, listFiles: true, changeFiles: true, upload: true, readable: [], admin };
  const scope = who?.scope ?? {};
  return {
    via,
    grant: credential,
    listFiles: scope.files !== undefined,
    changeFiles: scope.files === 'write',
    upload: scope.upload !== undefined,
    readable: scope.read ?? [],
    admin: false,
  };
}

/** Whether the identity's own file `fileId` may be downloaded. */
export function mayDownload(access: Access, fileId: string): boolean {
  return access.listFiles || access.readable.includes(fileId);
}
