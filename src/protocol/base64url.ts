// base64url (RFC 4648 §5, unpadded): the URL- and header-safe spelling of base64, used for the
// creation parameters header and for file ETags.
import { bytesToBase64 } from './digest.js';

/** Standard base64 (padded or not) respelled as unpadded base64url. */
export function base64ToBase64url(base64: string): string {
  return base64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function bytesToBase64url(bytes: Uint8Array): string {
  return base64ToBase64url(bytesToBase64(bytes));
}
