// `ferry keys` against a data directory: its metadata store opened directly (SQLite in WAL mode, so a
// server running on the same directory is fine). This is how the first admin key is made.
import { mkdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Role } from '../stores/types.js';
import { CliError } from './server-call.js';


export interface KeyInfo {
  id: string;
  identity: string;
  role: Role;
  label: string;
  createdAt: string;
  revokedAt: string | null;
}

export interface LocalKeys {
  create(identity: string, role: Role, label: string): Promise<KeyInfo & { key: string }>;
  list(): Promise<KeyInfo[]>;
  /** false: no such key. Revoking a revoked key is a no-op. */
  revoke(id: string): Promise<boolean>;
  close(): Promise<void>;
}

/** The key store of `dataDir`; `create`: make the directory and database when missing (a first key before the first start). */
export async function openLocalKeys(dataDir: string, create: boolean): Promise<LocalKeys> {
  const dir = resolve(dataDir);
  const path = join(dir, 'meta.sqlite');
  if (create) await mkdir(dir, { recursive: true });
  else if (!(await stat(path).then(() => true, () => false))) {
    throw new CliError(`no Ferry data in ${dir} (no meta.sqlite): pass --data-dir (or FERRY_DATA_DIR), or --server for a running server.`);
  }
  // Loaded here, not at the top (as `ferry serve` does): other commands start without the server and SQLite.
  const { openSqliteMetaStore, createApiKey, describeKey } = await import('../server/index.js');
  const store = await openSqliteMetaStore(path);
  return {
    async create(identity, role, label) {
      const made = await createApiKey(store, identity, role, label, Date.now());
      return { ...describeKey(made.record), key: made.key };
    },
    async list() {
      return (await store.listApiKeys()).map(describeKey);
    },
    async revoke(id) {
      if (await store.revokeApiKey(id, Date.now())) return true;
      return (await store.getApiKey(id)) !== undefined;
    },
    close: () => store.close(),
  };
}
