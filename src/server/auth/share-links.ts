// Share links: a download URL for one file carrying a grant the server signs itself, so anyone with
// the link (and no account) can fetch that file until it expires.
import { randomBytes } from 'node:crypto';
import { issueGrant, type GrantKey } from '../../grants/index.js';
import { Paths } from '../../protocol/index.js';
import type { FileRecord, SecretStore } from '../../stores/types.js';
import { GrantParam } from './authenticate.js';

/** The key id of share links; the secret is made once and kept in the metadata store (shared by every node). */
export const ShareKeyId = 'ferry-share';

export async function loadShareKey(store: SecretStore): Promise<GrantKey> {
  const secret = await store.sharedSecret('share-link-key', () => randomBytes(32).toString('base64url'));
  return { kid: ShareKeyId, secret };
}

export async function makeShareLink(key: GrantKey, file: FileRecord, expiresInSeconds: number, base: string, now: number) {
  const grant = await issueGrant({ ...key, identity: file.owner, expiresIn: expiresInSeconds, scope: { read: [file.id] } });
  return {
    url: `${base}${Paths.file(file.id)}?${GrantParam}=${grant}`,
    expiresAt: new Date(now + expiresInSeconds * 1000).toISOString(),
  };
}
