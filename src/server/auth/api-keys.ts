// API keys: "fk_<id>_<secret>". The id finds the row; only a SHA-256 of the secret is stored.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiKeyRecord, ApiKeyStore, Role } from '../../stores/types.js';

const keyPattern = /^fk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

/** The secret's stored form. A key has 256 random bits, so a fast hash is enough (nothing to brute-force). */
export function hashKeySecret(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}

export function parseApiKey(text: string): { id: string; secret: string } | null {
  const m = keyPattern.exec(text);
  return m ? { id: m[1]!, secret: m[2]! } : null;
}

export interface NewApiKey {
  /** The key to hand to its user; shown once, never stored. */
  key: string;
  record: ApiKeyRecord;
}

/** Makes and stores a new key for `identity`. */
export async function createApiKey(store: ApiKeyStore, identity: string, role: Role, label: string, now: number): Promise<NewApiKey> {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const record: ApiKeyRecord = { id, secretHash: hashKeySecret(secret), identity, role, label, createdAt: now, revokedAt: null };
  await store.createApiKey(record);
  return { key: `fk_${id}_${secret}`, record };
}

/** The key's record when `text` is a live key of this store, else null (unknown, wrong secret, revoked). */
export async function checkApiKey(store: ApiKeyStore, text: string): Promise<ApiKeyRecord | null> {
  const parsed = parseApiKey(text);
  if (!parsed) return null;
  const record = await store.getApiKey(parsed.id);
  if (!record || record.revokedAt !== null) return null;
  const given = Buffer.from(hashKeySecret(parsed.secret));
  const stored = Buffer.from(record.secretHash);
  return given.length === stored.length && timingSafeEqual(given, stored) ? record : null;
}

/** What listing a key shows: everything but the hash. */
export function describeKey(record: ApiKeyRecord) {
  return {
    id: record.id,
    identity: record.identity,
    role: record.role,
    label: record.label,
    createdAt: new Date(record.createdAt).toISOString(),
    revokedAt: record.revokedAt === null ? null : new Date(record.revokedAt).toISOString(),
  };
}
