// Test helpers for digests and deterministic bytes.
import { createHash, randomBytes } from 'node:crypto';

export function sha256Field(bytes: Uint8Array): string {
  return `sha-256=:${createHash('sha256').update(bytes).digest('base64')}:`;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function randomData(size: number): Buffer {
  return randomBytes(size);
}
