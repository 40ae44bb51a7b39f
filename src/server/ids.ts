// Unguessable identifiers for uploads and files.
import { randomBytes } from 'node:crypto';

/**
 * 144 random bits, base64url (24 characters), starting with a letter or digit: an id that began with
 * "-" would read as an option on a command line (`ferry share -Ssk…`), so such draws are drawn again.
 */
export function newId(): string {
  for (;;) {
    const id = randomBytes(18).toString('base64url');
    if (/^[A-Za-z0-9]/.test(id)) return id;
  }
}

export const idPattern = /^[A-Za-z0-9_-]{16,64}$/;
