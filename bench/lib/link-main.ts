// The emulated link as its own process (see link-process.ts): `node --import tsx bench/lib/link-main.ts
// <target URL> <LinkOptions as JSON>`. Prints "listening <port>"; on SIGTERM prints "stats <JSON>" and exits.
import { startLink } from './link.js';

const [target, json] = process.argv.slice(2) as [string, string];
const link = await startLink(target, JSON.parse(json));
process.stdout.write(`listening ${link.port}\n`);
process.once('SIGTERM', () => {
  void link.close();
  process.stdout.write(`stats ${JSON.stringify(link.stats)}\n`, () => process.exit(0));
});
