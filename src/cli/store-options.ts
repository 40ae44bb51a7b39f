// The options that say where a server's stores are (--meta, --store, --s3-*), shared by `serve` and `migrate`.
import { Option, type Command } from 'commander';
import { parseInteger } from './options.js';

export interface StoreOptionValues {
  meta?: string;
  store?: string;
  s3Endpoint?: string;
  s3Region: string;
  s3PathStyle?: boolean;
  metaPoolSize?: number;
}

/** Adds the options; `required`: migrate needs both targets named. */
export function addStoreOptions(command: Command, required = false): Command {
  const needed = required ? ' (required)' : '';
  return command
    .addOption(new Option('--meta <url>', `metadata store: postgres://user:pass@host:5432/db, shared by every node${needed || ' (default: SQLite in --data-dir)'}`).env('FERRY_META'))
    .addOption(new Option('--store <url>', `blob store: s3://bucket/prefix, shared by every node${needed || ' (default: files in --data-dir)'}`).env('FERRY_STORE'))
    .addOption(new Option('--s3-endpoint <url>', 'S3 service URL for MinIO, Ceph RGW, R2... (default: AWS); credentials come from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the AWS config').env('FERRY_S3_ENDPOINT'))
    .addOption(new Option('--s3-region <region>', 'S3 region').env('FERRY_S3_REGION').default(process.env.AWS_REGION ?? 'us-east-1'))
    .addOption(new Option('--s3-path-style', 'address buckets as <endpoint>/<bucket> (MinIO, Ceph; env FERRY_S3_PATH_STYLE=1)'))
    .addOption(
      new Option('--meta-pool-size <n>', 'PostgreSQL connections this node keeps at most (default 10)').env('FERRY_META_POOL_SIZE').argParser(parseInteger(1, 1000)),
    );
}

/** The options as server configuration fields. */
export function storeConfig(o: StoreOptionValues): { meta?: string; store?: string; s3Endpoint?: string; s3Region: string; s3PathStyle: boolean; metaPoolSize?: number } {
  return {
    ...(o.metaPoolSize !== undefined && { metaPoolSize: o.metaPoolSize }),
    ...(o.meta !== undefined && o.meta !== '' && { meta: o.meta }),
    ...(o.store !== undefined && o.store !== '' && { store: o.store }),
    ...(o.s3Endpoint !== undefined && o.s3Endpoint !== '' && { s3Endpoint: o.s3Endpoint }),
    s3Region: o.s3Region,
    // Not commander's .env(): for a flag it would take FERRY_S3_PATH_STYLE=0 as "on".
    s3PathStyle: o.s3PathStyle === true || /^(?:1|true|yes|on)$/i.test(process.env.FERRY_S3_PATH_STYLE ?? ''),
  };
}
