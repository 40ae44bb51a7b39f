// Bundles the `ferry` command (src/cli/main.ts and the client it uses) into one file, dist/cli/main.js,
// replacing the loose module tsc emitted there. Node 20 spends ~50 ms resolving and compiling the
// ~150 modules the command would otherwise load one by one (zod alone is ~70 files); every `ferry`
// invocation pays that. `ferry serve` still loads the server from dist/server (tsc's output), only
// when it runs. Run by `npm run build`, after tsc.
import { build } from 'esbuild';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outfile = join(root, 'dist/cli/main.js');
const next = `${outfile}.new-${process.pid}`;

await build({
  entryPoints: [join(root, 'src/cli/main.ts')],
  outfile: next,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // The server, SQLite and pino stay out: `ferry serve` imports dist/server/index.js at run time
  // (the same relative path from dist/cli as from src/cli).
  external: ['../server/index.js', 'better-sqlite3', 'pino'],
  // Bundled CommonJS packages (commander, undici) call require() for Node built-ins.
  banner: { js: "import { createRequire as __ferryRequire } from 'node:module'; const require = __ferryRequire(import.meta.url);" },
  // Smaller to read and compile; stack traces map back through the source map (node --enable-source-maps).
  minify: true,
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
});
// Swapped in whole, so a `ferry` started meanwhile never loads a half-written file.
await rename(next, outfile);
await rename(`${next}.map`, `${outfile}.map`);
