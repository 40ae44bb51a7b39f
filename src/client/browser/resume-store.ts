// Resume entries in localStorage, one key per upload; a no-op where storage is unavailable.
import type { ResumeEntry, ResumeStore } from '../io.js';

/** The part of the Web Storage API used here (localStorage, or a fake in tests). */
export type KeyValueStorage = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

export interface BrowserResumeStoreOptions {
  storage?: KeyValueStorage | null;
  /** Prefix of the storage keys (default "ferry:upload:"). */
  prefix?: string;
}

export function createResumeStore(options: BrowserResumeStoreOptions = {}): ResumeStore {
  const prefix = options.prefix ?? 'ferry:upload:';
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
