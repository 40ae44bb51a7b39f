// `ferry migrate`: copies a single node's data directory (finished files, API keys, the share-link key)
// into the stores several nodes share (PostgreSQL and S3). Re-running it copies only what is missing.
import { Command, Option } from 'commander';
import { describeMeta, describeStore, LocationError, parseMetaLocation, parseStoreLocation } from '../stores/locations.js';
import { formatBytes } from './format.js';
import { action, CliError } from './server-call.js';
import { addStoreOptions, storeConfig, type StoreOptionValues } from './store-options.js';

interface MigrateOptions extends StoreOptionValues {
  dataDir: string;
}

export function registerMigrate(program: Command): void {
  const command = program
    .command('migrate')
    .description(
      "Copy a single node's finished files, API keys and share-link key from --data-dir into --meta (PostgreSQL) and --store (S3). " +
        'Stop the server on --data-dir first; running it again copies only what is missing',
    )
    .addOption(new Option('-d, --data-dir <dir>', 'the data directory to copy from').env('FERRY_DATA_DIR').default('./ferry-data'));
  addStoreOptions(command, true).action(action('migrate', (o: MigrateOptions) => migrate(o)));
}

async function migrate(o: MigrateOptions): Promise<void> {
  const started = Date.now();
  const target = storeConfig(o);
  let where: string;
  try {
    const meta = parseMetaLocation(target.meta);
    const store = parseStoreLocation(target.store);
    if (meta.kind !== 'postgres') throw new CliError('--meta is required: the postgres:// URL of the database the nodes will share', 2);
    if (store.kind !== 's3') throw new CliError('--store is required: the s3://bucket/prefix the nodes will share', 2);
    where = `${describeMeta(meta)} and ${describeStore(store)}`;
  } catch (error) {
    if (error instanceof LocationError) throw new CliError(error.message, 2);
    throw error;
  }
  const say = (line: string) => void process.stdout.write(line + '\n');
  say(`copying ${o.dataDir} to ${where}`);
  // Loaded here, from the server's build (as `ferry serve` does): the stores' drivers stay out of the CLI bundle.
  const { migrateDataDir } = await import('../server/index.js');
  const tally = await migrateDataDir(o.dataDir, { ...target, meta: target.meta!, store: target.store! }, say);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  say(
    `done in ${seconds} s: ${tally.copied} file${tally.copied === 1 ? '' : 's'} copied (${formatBytes(tally.bytes)}), ` +
      `${tally.present} already there, ${tally.busy} being copied by another run, ${tally.failed} failed`,
  );
  if (tally.unfinished > 0) {
    say(`not copied: ${tally.unfinished} upload${tally.unfinished === 1 ? '' : 's'} in progress; let them finish on the old server (or expire), then run ferry migrate again`);
  }
  if (tally.failed > 0 || tally.busy > 0) process.exitCode = 1;
}
