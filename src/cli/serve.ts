// `ferry serve`: run the server with the embedded stores until SIGINT/SIGTERM.
import { Command, Option } from 'commander';
import { collect, collectGrantSecrets, parseDuration, parseInteger, parsePositiveNumber, parseSize } from './options.js';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Run a Ferry server (SQLite metadata + files under --data-dir, web page at /)')
    .addOption(new Option('-p, --port <port>', 'TCP port (0 picks a free one)').env('PORT').default(8080).argParser(parseInteger(0, 65535)))
    .addOption(new Option('--host <host>', 'address to listen on (0.0.0.0: every address, which turns on --auth token)').env('FERRY_HOST').default('127.0.0.1'))
    .addOption(new Option('--auth <mode>', 'open: no credentials (loopback only); token: API keys and grants (default off loopback)').choices(['open', 'token']).env('FERRY_AUTH'))
    .addOption(new Option('--i-know-this-is-public', 'allow --auth open on a non-loopback address (anyone who reaches it can read and fill it)'))
    .addOption(
      new Option('--grant-secret <kid:secret>', 'secret that verifies signed grants, as key-id:secret (repeatable, for rotation; env: comma-separated)')
        .env('FERRY_GRANT_SECRETS')
        .argParser(collectGrantSecrets),
    )
    .addOption(new Option('--file-ttl <duration>', 'delete finished files this long after they were completed (e.g. 30d; default: keep)').argParser(parseDuration))
    .addOption(new Option('--max-share <duration>', 'longest lifetime of a share link (default 90d)').argParser(parseDuration))
    .addOption(new Option('--cors-origin <origin>', 'let pages from this origin call the API (repeatable; * for any)').argParser(collect))
    .addOption(new Option('--webhook <url>', 'POST signed event webhooks to this URL (repeatable)').argParser(collect))
    .addOption(new Option('--webhook-secret <secret>', 'Standard Webhooks signing secret (whsec_...)').env('FERRY_WEBHOOK_SECRET'))
    .addOption(new Option('--webhook-timeout <seconds>', 'time limit of one webhook or hook request').default(10).argParser(parsePositiveNumber))
    .addOption(new Option('--pre-create-hook <url>', 'ask this URL before every upload is created (it may refuse or annotate it)').env('FERRY_PRE_CREATE_HOOK'))
    .addOption(new Option('-d, --data-dir <dir>', 'where metadata and bytes are stored').env('FERRY_DATA_DIR').default('./ferry-data'))
    .addOption(new Option('--no-fsync', 'acknowledge chunks without fsync (faster; a power loss may lose acknowledged chunks)'))
    .addOption(new Option('--public-url <url>', 'base URL for links in responses (default: from the Host header)').env('FERRY_PUBLIC_URL'))
    .addOption(new Option('--upload-ttl <seconds>', 'incomplete uploads expire after this long without activity').default(86400).argParser(parsePositiveNumber))
    .addOption(new Option('--sweep-interval <seconds>', 'how often expired uploads are cleaned up').default(60).argParser(parsePositiveNumber))
    .addOption(new Option('--max-file-size <size>', 'largest accepted file').argParser(parseSize))
    .addOption(new Option('--min-chunk-size <size>', 'smallest accepted chunk').argParser(parseSize))
    .addOption(new Option('--default-chunk-size <size>', 'chunk size offered to clients').argParser(parseSize))
    .addOption(new Option('--max-chunk-size <size>', 'largest accepted chunk').argParser(parseSize))
    .addOption(new Option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent').env('FERRY_LOG_LEVEL').default('info'))
    .action(async (o) => {
      // Loaded here, not at the top: the other commands start faster without the server and SQLite.
      const { startServer, parseServerConfig } = await import('../server/index.js');
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
        fsync: o.fsync,
        publicUrl: o.publicUrl,
        uploadTtlSeconds: o.uploadTtl,
        sweepIntervalSeconds: o.sweepInterval,
        ...(o.maxFileSize !== undefined && { maxFileSize: o.maxFileSize }),
        ...(o.minChunkSize !== undefined && { minChunkSize: o.minChunkSize }),
        ...(o.defaultChunkSize !== undefined && { defaultChunkSize: o.defaultChunkSize }),
        ...(o.maxChunkSize !== undefined && { maxChunkSize: o.maxChunkSize }),
        logLevel: o.logLevel,
      };
      try {
        parseServerConfig(config);
      } catch (error) {
        // A configuration mistake is one clear line, not a stack trace.
        const issues = (error as { issues?: Array<{ message: string; path: unknown[] }> }).issues;
        process.stderr.write(`ferry serve: ${issues ? issues.map((i) => i.message).join('; ') : (error as Error).message}\n`);
        process.exit(2);
      }
      const server = await startServer(config);
      const stop = () => {
        server.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
