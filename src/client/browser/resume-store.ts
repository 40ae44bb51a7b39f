// Resume entries in localStorage, one key per upload; a no-op where storage is unavailable.
import type { ResumeEntry, ResumeStore } from '../upload/io.js';

/** The part of the Web Storage API used here (localStorage, or a fake in tests). */
export type KeyValueStorage = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

export interface BrowserResumeStoreOptions {
  storage?: KeyValueStorage | null;
  /** Prefix of the storage keys (default "ferry:upload:"). */
  prefix?: string;
}

/** The storage key prefix createResumeStore uses unless told otherwise. */
export const DefaultResumePrefix = 'ferry:upload:';

export function createResumeStore(options: BrowserResumeStoreOptions = {}): ResumeStore {
  const prefix = options.prefix ?? DefaultResumePrefix;
  const storage = (): KeyValueStorage | null => {
    if (options.storage !== undefined) return options.storage;
    try {
      return globalThis.localStorage ?? null;
    } catch {
      return null; // access denied (sandboxed frame, disabled storage)
    }
  };
  return {
    async get(key) {
      const text = storage()?.getItem(prefix + key);
      if (!text) return undefined;
      try {
        const entry = JSON.parse(text) as ResumeEntry;
        return typeof entry?.uploadId === 'string' && typeof entry.uploadUrl === 'string' ? entry : undefined;
      } catch {
        return undefined;
      }
    },
    async set(key, entry) {
      try {
        storage()?.setItem(prefix + key, JSON.stringify(entry));
      } catch {
        // Quota exceeded: the upload still works, it just cannot be resumed after a reload.
      }
    },
    async delete(key) {
      storage()?.removeItem(prefix + key);
    },
  };
}

/** A remembered upload and its resume store key. */
export interface ListedResumeEntry {
  key: string;
  entry: ResumeEntry;
}

/**
 * Every upload the store remembers, so a page can offer to finish them after a reload. Needs to
 * enumerate keys, which the store interface does not; unreadable entries are skipped.
 */
export async function listResumeEntries(
  options: { storage?: Pick<Storage, 'length' | 'key' | 'getItem' | 'setItem' | 'removeItem'> | null; prefix?: string } = {},
): Promise<ListedResumeEntry[]> {
  const prefix = options.prefix ?? DefaultResumePrefix;
  let storage = options.storage;
  if (storage === undefined) {
    try {
      storage = globalThis.localStorage ?? null;
    } catch {
      storage = null;
    }
  }
  if (!storage) return [];
  const keys: string[] = [];
  for (let i = 0; i < storage.length; i++) {
    const k = storage.key(i);
    if (k !== null && k.startsWith(prefix)) keys.push(k.slice(prefix.length));
  }
  const store = createResumeStore({ storage, prefix });
  const listed: ListedResumeEntry[] = [];
  for (const key of keys) {
    const entry = await store.get(key);
    if (entry) listed.push({ key, entry });
  }
  return listed;
}
