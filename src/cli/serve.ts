// `ferry serve`: run the server until SIGINT/SIGTERM, on the embedded stores or on PostgreSQL and S3.
import { mkdir } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { DefaultLimits } from '../protocol/limits.js';
import { lockDataDir, type DataDirLock } from './data-dir-lock.js';
import { binarySize, collect, collectGrantSecrets, parseDuration, parseInteger, parseNonNegativeNumber, parsePositiveNumber, parseSize } from './options.js';
import { addStoreOptions, storeConfig } from './store-options.js';

/** A size option's default, shown in --help as the operator would type it (1TiB, 8MiB). */
const sizeDefault = (bytes: number): [number, string] => [bytes, binarySize(bytes)];

export function registerServe(program: Command): void {
  const command = program
    .command('serve')
    .description('Run a Ferry server (SQLite metadata + files under --data-dir, or --meta postgres://… --store s3://… for several nodes; web page at /)')
    .addOption(new Option('-p, --port <port>', 'TCP port (0 picks a free one)').env('PORT').default(8080).argParser(parseInteger(0, 65535)))
    .addOption(new Option('--host <host>', 'address to listen on (0.0.0.0: every address, which turns on --auth token)').env('FERRY_HOST').default('127.0.0.1'))
    .addOption(new Option('--auth <mode>', 'open: no credentials (loopback only); token: API keys and grants (default: open on a loopback --host, else token)').choices(['open', 'token']).env('FERRY_AUTH'))
    .addOption(new Option('--i-know-this-is-public', 'allow --auth open on a non-loopback address (anyone who reaches it can read and fill it)'))
    .addOption(
      new Option('--grant-secret <kid:secret>', 'secret that verifies signed grants, as key-id:secret (repeatable, for rotation; env: comma-separated) (default: none, grants refused)')
        .env('FERRY_GRANT_SECRETS')
        .argParser(collectGrantSecrets),
    )
    .addOption(new Option('--file-ttl <duration>', 'delete finished files this long after they were completed (e.g. 30d; default: keep)').argParser(parseDuration))
    .addOption(new Option('--max-share <duration>', 'longest lifetime of a share link').default(90 * 24 * 3600, '90d').argParser(parseDuration))
    .addOption(new Option('--cors-origin <origin>', 'let pages from this origin call the API (repeatable; * for any) (default: none)').argParser(collect))
    .addOption(new Option('--webhook <url>', 'POST signed event webhooks to this URL (repeatable) (default: none)').argParser(collect))
    .addOption(new Option('--webhook-secret <secret>', 'Standard Webhooks signing secret (whsec_...) (default: none; needed by --webhook and --pre-create-hook)').env('FERRY_WEBHOOK_SECRET'))
    .addOption(new Option('--webhook-timeout <seconds>', 'time limit of one webhook or hook request').default(10).argParser(parsePositiveNumber))
    .addOption(new Option('--pre-create-hook <url>', 'ask this URL before every upload is created (it may refuse or annotate it) (default: none)').env('FERRY_PRE_CREATE_HOOK'))
    .addOption(new Option('-d, --data-dir <dir>', 'where metadata and bytes are stored').env('FERRY_DATA_DIR').default('./ferry-data'))
    .addOption(new Option('--no-fsync', 'acknowledge chunks without fsync (faster; a power loss may lose acknowledged chunks)'))
    .addOption(new Option('--public-url <url>', 'base URL for links in responses (default: the listening URL, or a Host naming this machine)').env('FERRY_PUBLIC_URL'))
    .addOption(new Option('--upload-ttl <seconds>', 'incomplete uploads expire after this long without activity').default(86400).argParser(parsePositiveNumber))
    .addOption(new Option('--sweep-interval <seconds>', 'how often expired uploads are cleaned up').default(60).argParser(parsePositiveNumber))
    .addOption(
      new Option('--orphan-grace <duration>', 'age at which storage no upload names is freed (another node may be creating it; 0: at once)')
        .default(600, '10m')
        .argParser((text) => (text.trim() === '0' ? 0 : parseDuration(text))),
    )
    .addOption(
      new Option('--chunk-takeover <seconds>', 'a chunk whose writer sent no byte for this long (a stalled client, a dead node) may be written by another request')
        .default(2)
        .argParser(parseNonNegativeNumber),
    )
    .addOption(new Option('--max-file-size <size>', 'largest accepted file').default(...sizeDefault(DefaultLimits.maxFileSize)).argParser(parseSize))
    .addOption(new Option('--min-chunk-size <size>', 'smallest accepted chunk (raised to 5MiB on S3)').default(...sizeDefault(DefaultLimits.minChunkSize)).argParser(parseSize))
    .addOption(new Option('--default-chunk-size <size>', 'chunk size offered to clients').default(...sizeDefault(DefaultLimits.defaultChunkSize)).argParser(parseSize))
    .addOption(new Option('--max-chunk-size <size>', 'largest accepted chunk').default(...sizeDefault(DefaultLimits.maxChunkSize)).argParser(parseSize))
    .addOption(new Option('--metrics-address <host:port>', 'serve GET /metrics there, without credentials (keep it private); the main address then answers 404 for it (default: on the main address, for admins)').env('FERRY_METRICS_ADDRESS'))
    .addOption(new Option('--max-connections <n>', 'connections open at once; more are closed as they are accepted').default(1024).argParser(parseInteger(1, 1_000_000)))
    .addOption(new Option('--max-connections-per-address <n>', 'connections open at once from one client address (0: no cap) (default: 64, none with --trust-proxy)').argParser(parseInteger(0, 1_000_000)))
    .addOption(new Option('--keep-alive-timeout <seconds>', 'close a keep-alive connection idle this long, at most 60 (behind a proxy: above its upstream keep-alive)').default(5).argParser(parsePositiveNumber))
    .addOption(new Option('--headers-timeout <seconds>', "a request's headers (a new connection's first too) must arrive within this: 408").default(10).argParser(parsePositiveNumber))
    .addOption(new Option('--min-body-rate <size>', 'per second: a request body slower than this over a whole window gets 408 (0: off)').default(1024, '1KiB').argParser(parseSize))
    .addOption(new Option('--min-body-rate-window <seconds>', 'the window --min-body-rate is measured over').default(30).argParser(parsePositiveNumber))
    .addOption(new Option('--response-buffer-budget <size>', 'memory all downloads together read files into; beyond it downloads wait').default(64 * 1024 * 1024, '64MiB').argParser(parseSize))
    .addOption(new Option('--max-downloads-per-identity <n>', 'downloads one identity (open mode: one address) may have open at once: 429 beyond').default(32).argParser(parseInteger(1, 1_000_000)))
    .addOption(new Option('--trust-proxy', 'behind a reverse proxy: links use its X-Forwarded-Proto/-Host (without --public-url), its X-Request-Id is kept (env FERRY_TRUST_PROXY=1)'))
    .addOption(new Option('--max-open-uploads <n>', 'uploads in progress one identity (open mode: one client address) may have').default(1000).argParser(parseInteger(1, Number.MAX_SAFE_INTEGER)))
    .addOption(new Option('--max-reserved <size>', "declared bytes one identity's uploads in progress may add up to").default(...sizeDefault(1024 ** 4)).argParser(parseSize))
    .addOption(new Option('--max-reserved-total <size>', "declared bytes everyone's uploads in progress may add up to (default: no limit but free disk space)").argParser(parseSize))
    .addOption(new Option('--min-free-space <size>', 'disk space a new upload may not take (default 1GiB, or 5% of the volume if less)').argParser(parseSize))
    .addOption(new Option('--rate-limit <n>', 'requests per second one identity (open mode: one client address) may average; 0: no limit').default(100).argParser(parseInteger(0, 1_000_000)))
    .addOption(new Option('--rate-burst <n>', 'requests at once above the rate (default: two seconds of --rate-limit)').argParser(parseInteger(1, Number.MAX_SAFE_INTEGER)))
    .addOption(new Option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent').env('FERRY_LOG_LEVEL').default('info'));
  addStoreOptions(command)
    .action(async (o) => {
      // Loaded here, not at the top: the other commands start faster without the server and SQLite.
      const { startServer } = await import('../server/index.js');
      const config = {
        port: o.port,
        host: o.host,
        ...(o.auth !== undefined && { auth: o.auth }),
        allowPublicOpen: o.iKnowThisIsPublic === true,
        grantSecrets: o.grantSecret ?? [],
        ...(o.fileTtl !== undefined && { fileTtlSeconds: o.fileTtl }),
        ...(o.maxShare !== undefined && { maxShareSeconds: o.maxShare }),
        corsOrigins: o.corsOrigin ?? [],
        webhooks: o.webhook ?? [],
        ...(o.webhookSecret !== undefined && { webhookSecret: o.webhookSecret }),
        webhookTimeoutSeconds: o.webhookTimeout,
        ...(o.preCreateHook !== undefined && { preCreateHook: o.preCreateHook }),
        dataDir: o.dataDir,
        ...storeConfig(o),
        fsync: o.fsync,
        publicUrl: o.publicUrl,
        uploadTtlSeconds: o.uploadTtl,
        sweepIntervalSeconds: o.sweepInterval,
        orphanGraceSeconds: o.orphanGrace,
        chunkTakeoverSeconds: o.chunkTakeover,
        ...(o.maxFileSize !== undefined && { maxFileSize: o.maxFileSize }),
        ...(o.minChunkSize !== undefined && { minChunkSize: o.minChunkSize }),
        ...(o.defaultChunkSize !== undefined && { defaultChunkSize: o.defaultChunkSize }),
        ...(o.maxChunkSize !== undefined && { maxChunkSize: o.maxChunkSize }),
        ...(o.metricsAddress !== undefined && { metricsAddress: o.metricsAddress }),
        maxConnections: o.maxConnections,
        ...(o.maxConnectionsPerAddress !== undefined && { maxConnectionsPerAddress: o.maxConnectionsPerAddress }),
        keepAliveTimeoutSeconds: o.keepAliveTimeout,
        headersTimeoutSeconds: o.headersTimeout,
        minBodyRate: o.minBodyRate,
        minBodyRateWindowSeconds: o.minBodyRateWindow,
        responseBufferBudget: o.responseBufferBudget,
        maxDownloadsPerIdentity: o.maxDownloadsPerIdentity,
        // Not commander's .env(): for a flag it would take FERRY_TRUST_PROXY=0 as "on".
        trustProxy: o.trustProxy === true || /^(?:1|true|yes|on)$/i.test(process.env.FERRY_TRUST_PROXY ?? ''),
        maxOpenUploads: o.maxOpenUploads,
        ...(o.maxReserved !== undefined && { maxReservedBytes: o.maxReserved }),
        ...(o.maxReservedTotal !== undefined && { maxReservedBytesTotal: o.maxReservedTotal }),
        ...(o.minFreeSpace !== undefined && { minFreeSpace: o.minFreeSpace }),
        rateLimit: o.rateLimit,
        ...(o.rateBurst !== undefined && { rateBurst: o.rateBurst }),
        logLevel: o.logLevel,
      };
      // SQLite and the file store have one owner: a second server on the same directory is refused.
      const embedded = config.meta === undefined || config.store === undefined;
      let lock: DataDirLock | null = null;
      if (embedded) {
        try {
          await mkdir(config.dataDir, { recursive: true });
          lock = await lockDataDir(config.dataDir, `${config.host}:${config.port} (starting)`);
        } catch (error) {
          process.stderr.write(`ferry serve: ${String((error as Error)?.message ?? error).split('\n')[0]}\n`);
          process.exit(1);
        }
      }
      let server: Awaited<ReturnType<typeof startServer>>;
      try {
        server = await startServer(config);
      } catch (error) {
        await lock?.release();
        // A configuration mistake (2) or a start that fails (1: the port is taken, the data directory
        // is not writable, the database or the bucket does not answer...) is one clear line, not a stack trace.
        const issues = (error as { issues?: Array<{ message: string; path: PropertyKey[] }> }).issues;
        const text = issues
          ? issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ')
          : (listenFailure(error, config) ?? String((error as Error)?.message ?? error).split('\n')[0]);
        process.stderr.write(`ferry serve: ${text}\n`);
        process.exit(issues ? 2 : 1);
      }
      if (lock) {
        const previous = lock.tookOverFrom;
        if (previous) {
          server.ctx.log.warn(
            { event: 'data-dir-lock-taken-over', dataDir: config.dataDir, previous },
            `took over ${lock.file} from ferry serve pid ${previous.pid} on ${previous.hostname}, which is no longer running`,
          );
        }
        await lock.update(server.url).catch((err: unknown) => server.ctx.log.warn({ err }, 'could not record the listening URL in the data directory lock'));
      }
      const stop = () => {
        server
          .close()
          .finally(() => lock?.release())
          .then(
            () => process.exit(0),
            () => process.exit(1),
          );
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}

/** Why a listening socket could not be opened, in one line naming the address; undefined for other errors. */
export function listenFailure(error: unknown, config: { host: string; port: number; metricsAddress?: string }): string | undefined {
  const e = error as NodeJS.ErrnoException & { address?: string; port?: number; hostname?: string };
  if (e?.code === 'ENOTFOUND' || e?.code === 'EAI_AGAIN') return `cannot listen on ${e.hostname ?? config.host}: unknown host (${e.code}: --host takes an address of this machine, e.g. 127.0.0.1 or 0.0.0.0)`;
  if (e?.syscall !== 'listen') return undefined;
  const host = e.address ?? config.host;
  const where = `${host.includes(':') ? `[${host}]` : host}${e.port !== undefined ? `:${e.port}` : ''}`;
  // The metrics listener fails the same way; say which option chose the address.
  const metrics = config.metricsAddress !== undefined && e.port !== undefined && e.port !== config.port && config.metricsAddress.endsWith(`:${e.port}`);
  const which = metrics ? ' (--metrics-address)' : '';
  const why: Record<string, string> = {
    EADDRINUSE: `the address is in use (EADDRINUSE: another server?${metrics ? '' : ' choose another --port, or 0 for a free one'})`,
    EACCES: `permission denied (EACCES: ports below 1024 need root or CAP_NET_BIND_SERVICE)`,
    EADDRNOTAVAIL: `no such address on this machine (EADDRNOTAVAIL: ${metrics ? '--metrics-address' : '--host'} takes an address of this machine, e.g. 127.0.0.1 or 0.0.0.0)`,
  };
  return `cannot listen on ${where}${which}: ${why[e.code ?? ''] ?? e.message}`;
}
