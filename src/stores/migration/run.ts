// One migration of a data directory into the stores several nodes share: records first, then every
// finished file, one line each, and a tally. The command line around it is src/cli/migrate.ts.
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { openEmbeddedStores } from '../embedded.js';
import { openStores, type Stores, type StoresConfig } from '../open.js';
import type { FileRecord, MetaStore } from '../types.js';
import { copyFile, MigrationLeaseMs } from './copy-file.js';
import { copyApiKeys, copySharedSecret, SharedSecretNames } from './copy-records.js';
import { databaseInUse } from './in-use.js';

/** A reason the migration cannot start, as one line. */
export class MigrationRefused extends Error {
  override name = 'MigrationRefused';
}

export interface MigrationTally {
  copied: number;
  bytes: number;
  present: number;
  busy: number;
  failed: number;
  /** Uploads in progress in the source: not copied. */
  unfinished: number;
}

export interface MigrationTarget extends Omit<StoresConfig, 'dataDir' | 'fsync'> {
  meta: string;
  store: string;
}

/** Copies `dataDir` into `target`, telling `say` one line per step; the tally says what happened. */
export async function migrateDataDir(dataDir: string, target: MigrationTarget, say: (line: string) => void): Promise<MigrationTally> {
  const dir = resolve(dataDir);
  const database = join(dir, 'meta.sqlite');
  if (!(await stat(database).then(() => true, () => false))) {
    throw new MigrationRefused(`no Ferry data in ${dir} (no meta.sqlite): pass --data-dir (or FERRY_DATA_DIR)`);
  }
  if (databaseInUse(database)) {
    throw new MigrationRefused(`${database} is open in another process (a Ferry server?): stop it first, so that nothing it takes meanwhile is left behind`);
  }
  const source: Stores = await openEmbeddedStores({ dataDir: dir, fsync: false });
  let to: Stores;
  try {
    to = await openStores({ dataDir: dir, fsync: true, ...target });
  } catch (error) {
    await Promise.allSettled([source.meta.close(), source.blobs.close()]);
    throw error;
  }
  try {
    await copyRecords(source.meta, to.meta, say);
    const tally = await copyFiles(source, to, say);
    return { ...tally, unfinished: await unfinishedUploads(source.meta) };
  } finally {
    await Promise.allSettled([source.meta.close(), source.blobs.close(), to.meta.close(), to.blobs.close()]);
  }
}

async function copyRecords(source: MetaStore, target: MetaStore, say: (line: string) => void): Promise<void> {
  const keys = await copyApiKeys(source, target);
  say(`api keys: ${keys.copied} copied, ${keys.present} already there`);
  for (const name of SharedSecretNames) {
    const outcome = await copySharedSecret(source, target, name);
    const notes: Record<typeof outcome, string> = {
      copied: 'copied',
      same: 'already there',
      none: 'none to copy',
      differs: 'the target already has another one (a node started on it first): links shared before the move will not work there',
    };
    say(`${name}: ${notes[outcome]}`);
  }
}

async function copyFiles(source: Stores, target: Stores, say: (line: string) => void): Promise<Omit<MigrationTally, 'unfinished'>> {
  const tally = { copied: 0, bytes: 0, present: 0, busy: 0, failed: 0 };
  for await (const file of allFiles(source.meta)) {
    const label = `${file.id}  ${file.size} B  ${file.name}`;
    try {
      const result = await copyFile(source, target, file);
      if (result.outcome === 'copied') {
        tally.copied++;
        tally.bytes += file.size;
        say(`copied   ${label}  (${result.parts} part${result.parts === 1 ? '' : 's'})`);
      } else if (result.outcome === 'present') {
        tally.present++;
        say(`present  ${label}`);
      } else {
        tally.busy++;
        say(`busy     ${label}  (another ferry migrate is copying it, or one stopped less than ${MigrationLeaseMs / 1000} s ago: run again)`);
      }
    } catch (error) {
      tally.failed++;
      say(`failed   ${label}: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  return tally;
}

/** Every finished file, newest first, a page at a time. */
async function* allFiles(meta: MetaStore): AsyncGenerator<FileRecord> {
  const page = 100;
  let after: { createdAt: number; id: string } | undefined;
  for (;;) {
    const files = await meta.listFiles({ limit: page, ...(after && { after }) });
    yield* files;
    if (files.length < page) return;
    const last = files[files.length - 1]!;
    after = { createdAt: last.createdAt, id: last.id };
  }
}

/** Uploads the source still has in progress (receiving chunks, or completing): they are not copied. */
async function unfinishedUploads(meta: MetaStore): Promise<number> {
  const ids = new Set<string>();
  for (const u of await meta.listDue('uploading', Number.MAX_SAFE_INTEGER, 10_000)) ids.add(u.id);
  for (const u of await meta.listUnfinished(10_000)) ids.add(u.id);
  return ids.size;
}
