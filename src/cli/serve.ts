// `ferry serve`: run the server with the embedded stores until SIGINT/SIGTERM.
import { Command, Option } from 'commander';
import { parseInteger, parsePositiveNumber, parseSize } from './options.js';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Run a Ferry server (SQLite metadata + files under --data-dir, web page at /)')
    .addOption(new Option('-p, --port <port>', 'TCP port (0 picks a free one)').env('PORT').default(8080).argParser(parseInteger(0, 65535)))
    .addOption(new Option('--host <host>', 'address to listen on').env('FERRY_HOST').default('0.0.0.0'))
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
      const { startServer } = await import('../server/index.js');
      const server = await startServer({
        port: o.port,
        host: o.host,
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
      });
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
