// Builds the web page (src/web) into dist/web with esbuild: app.js (the page, ES module), worker.js
// (the hashing worker, a classic script), style.css, index.html and the icon. Run by `npm run build`.
import { build } from 'esbuild';
import { copyFile, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'src/web');
const out = join(root, 'dist/web');

/** What the server serves (src/server/routes/web.ts), from which source. */
const bundles = { 'app.js': 'main.ts', 'worker.js': 'hash-worker.ts' };

// tsc (tsconfig.build.json covers all of src) also emits src/web as loose modules into dist/web, and
// may run again after this script. A source named like a bundle (src/web/app.ts) would then replace
// the bundle with an unbundled module, so that is refused here; the loose files are never served.
for (const file of await readdir(src)) {
  const emitted = file.replace(/\.ts$/, '.js');
  if (file.endsWith('.ts') && emitted in bundles) throw new Error(`src/web/${file} would overwrite the bundle dist/web/${emitted}; rename it.`);
}
// Built beside dist/web and swapped in at the end, so a server running meanwhile (or a second build)
// never finds the page half-written or missing.
const next = `${out}.new-${process.pid}`;
await mkdir(next, { recursive: true });

/**
 * zod re-exports every one of its ~50 message locales as `z.locales`, which bundlers cannot drop (the
 * `z` namespace object keeps them alive): 260 KB of the page for nothing. The page's messages are its
 * own, and zod's default (English) is imported by zod directly, so the index is cut down to English.
 */
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, (args) => ({
      contents: 'export { default as en } from "./en.js";',
      resolveDir: dirname(args.path),
    }));
  },
};

const common = {
  plugins: [zodEnglishOnly],
  bundle: true,
  minify: true,
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
  // Browsers from 2023 on: ES2022, WebCrypto in workers, AbortSignal.timeout.
  target: ['chrome109', 'firefox115', 'safari16'],
};

await Promise.all([
  build({ ...common, entryPoints: [join(src, bundles['app.js'])], outfile: join(next, 'app.js'), format: 'esm', platform: 'browser' }),
  // A classic script: it imports nothing at run time, and classic workers need no module support.
  build({ ...common, entryPoints: [join(src, bundles['worker.js'])], outfile: join(next, 'worker.js'), format: 'iife', platform: 'browser' }),
  build({ ...common, plugins: [], bundle: false, entryPoints: [join(src, 'style.css')], outfile: join(next, 'style.css') }),
  copyFile(join(src, 'index.html'), join(next, 'index.html')),
  copyFile(join(src, 'favicon.svg'), join(next, 'favicon.svg')),
]);

// Another build may swap its own directory in between our two renames; then swap again.
const old = `${out}.old-${process.pid}`;
for (let attempt = 1; ; attempt++) {
  await rename(out, `${old}-${attempt}`).catch((e) => {
    if (e.code !== 'ENOENT') throw e;
  });
  try {
    await rename(next, out);
    break;
  } catch (e) {
    if (!['ENOTEMPTY', 'EEXIST'].includes(e.code) || attempt >= 5) throw e;
  }
}
for (const name of await readdir(dirname(out))) {
  if (name.startsWith(`web.old-${process.pid}-`)) await rm(join(dirname(out), name), { recursive: true, force: true });
}
