// Structured JSON logs (pino): one line per chunk, upload and sweep event.
import { pino, type Logger } from 'pino';

export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'ferry' }, timestamp: pino.stdTimeFunctions.isoTime });
}
