// Unguessable identifiers for uploads and files.
import { randomBytes } from 'node:crypto';

/** 144 random bits, base64url (24 characters). */
export function newId(): string {
  return randomBytes(18).toString('base64url');
}

export const idPattern = /^[A-Za-z0-9_-]{16,64}$/;
