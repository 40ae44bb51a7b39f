// Structured JSON logs (pino): one line per chunk, upload and sweep event.
import { pino, type Logger, type LoggerOptions } from 'pino';

/** Ferry's logger: JSON lines to stdout (or to `destination`, which tests read). */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { service: 'ferry' },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: {
      // A logged error keeps its stack (absolute paths, the code's layout) only when debug is on.
      err: (error: Error) => {
        const out = pino.stdSerializers.err(error) as unknown;
        if (out === null || typeof out !== 'object' || logger.isLevelEnabled('debug')) return out;
        const { stack: _stack, ...rest } = out as Record<string, unknown>;
        return rest;
      },
    },
  };
  const logger: Logger = destination ? pino(options, destination) : pino(options);
  return logger;
}
