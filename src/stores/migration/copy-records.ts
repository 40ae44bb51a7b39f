// Copies what a single node keeps besides files into other stores: API keys (revocations included) and
// the shared secrets (the share-link key), so credentials and links made before keep working after.
import type { MetaStore } from '../types.js';

/**
 * Secrets the server makes once and keeps in the metadata store, by name (see loadShareKey in
 * src/server/auth/share-links.ts): without the same share-link key, links shared before the move fail.
 */
export const SharedSecretNames = ['share-link-key'] as const;

export interface KeysCopied {
  copied: number;
  present: number;
}

export async function copyApiKeys(source: MetaStore, target: MetaStore): Promise<KeysCopied> {
  const result: KeysCopied = { copied: 0, present: 0 };
  for (const key of await source.listApiKeys()) {
    const there = await target.getApiKey(key.id);
    if (!there) {
      await target.createApiKey(key);
      result.copied++;
      continue;
    }
    result.present++;
    // Revoked on the old node after an earlier run: revoked here too.
    if (key.revokedAt !== null && there.revokedAt === null) await target.revokeApiKey(key.id, key.revokedAt);
  }
  return result;
}

/** 'copied', 'same' (already there), 'differs' (the target made its own before: old links fail there) or 'none' (the source has none). */
export type SecretOutcome = 'copied' | 'same' | 'differs' | 'none';

export async function copySharedSecret(source: MetaStore, target: MetaStore, name: string): Promise<SecretOutcome> {
  const value = await readSecret(source, name);
  if (value === undefined) return 'none';
  let created = false;
  const there = await target.sharedSecret(name, () => {
    created = true;
    return value;
  });
  if (there !== value) return 'differs';
  return created ? 'copied' : 'same';
}

/** The source's secret without making one: the store asks create() only when it has none. */
async function readSecret(store: MetaStore, name: string): Promise<string | undefined> {
  const none = Symbol('none');
  try {
    return await store.sharedSecret(name, () => {
      throw none;
    });
  } catch (error) {
    if (error === none) return undefined;
    throw error;
  }
}
