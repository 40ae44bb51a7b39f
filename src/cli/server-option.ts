// The --server option every client command shares: FERRY_SERVER or http://localhost:8080 by default.
import { InvalidArgumentError, Option } from 'commander';
import { parsePositiveNumber } from './options.js';

export const DefaultServer = 'http://localhost:8080';

export function serverOption(): Option {
  return new Option('-s, --server <url>', 'Ferry server URL').env('FERRY_SERVER').default(DefaultServer);
}

export function concurrencyOption(): Option {
  return new Option('-c, --concurrency <auto|N>', 'chunks in flight: auto adapts to the network, 1 is strictly sequential')
    .default('auto')
    .argParser((v: string) => {
      if (v === 'auto') return 'auto';
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 64) throw new InvalidArgumentError('expected "auto" or an integer from 1 to 64');
      return n;
    });
}

/** --timeout <seconds>: how long a request may go without progress before it is retried. */
export function timeoutOption(description: string): Option {
  return new Option('--timeout <seconds>', description).argParser(parsePositiveNumber);
}
