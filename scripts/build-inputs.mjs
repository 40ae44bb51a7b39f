// What dist/ is built from, and the record a finished build leaves of it (dist/.build-inputs.json), so
// `npm start` can tell in a few milliseconds whether dist/ still matches the sources
// (scripts/build-if-stale.mjs) instead of spending ~16 s rebuilding an unchanged tree.
//
// `node scripts/build-inputs.mjs begin` and `... end` bracket `npm run build`: begin removes the
// record (a failed or interrupted build leaves none, so the next start builds) and notes the inputs as
// they are *before* compiling; end makes that note the record. A file saved during the build thus
// differs from the record, and the next start rebuilds.
import { readdir, rename, rm, stat, writeFile, mkdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));
export const recordFile = join(root, 'dist/.build-inputs.json');
/** Outputs that must exist for dist/ to be usable at all (a half-deleted dist/ is rebuilt). */
export const outputs = ['dist/cli/main.js', 'dist/server/index.js', 'dist/web/app.js', 'dist/web/index.html'];

/** Everything the build reads besides node_modules, whose changes show in package-lock.json. */
const inputRoots = ['src', 'scripts', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'];

/** Each input file's size and modification time, keyed by its path from the repository root. */
export async function readInputs() {
  const inputs = {};
  async function visit(path) {
    const info = await stat(path).catch((e) => (e.code === 'ENOENT' ? null : Promise.reject(e)));
    if (info === null) return;
    if (info.isDirectory()) {
      for (const name of (await readdir(path)).sort()) await visit(join(path, name));
    } else {
      inputs[relative(root, path)] = [info.size, info.mtimeMs];
    }
  }
  for (const name of inputRoots) await visit(join(root, name));
  return inputs;
}

/** The first input that was added, removed or changed between two readings; null when none. */
export function firstDifference(before, now) {
  for (const path of new Set([...Object.keys(before), ...Object.keys(now)])) {
    const a = before[path];
    const b = now[path];
    if (!a) return `${path} is new`;
    if (!b) return `${path} was removed`;
    if (a[0] !== b[0] || a[1] !== b[1]) return `${path} changed`;
  }
  return null;
}

export async function readRecord() {
  try {
    return JSON.parse(await readFile(recordFile, 'utf8'));
  } catch {
    return null;
  }
}

const note = `${recordFile}.next`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const step = process.argv[2];
  if (step === 'begin') {
    await rm(recordFile, { force: true });
    await mkdir(join(root, 'dist'), { recursive: true });
    await writeFile(note, JSON.stringify(await readInputs()));
  } else if (step === 'end') {
    // Missing when a build running alongside already took it: that build's record stands.
    await rename(note, recordFile).catch((e) => {
      if (e.code !== 'ENOENT') throw e;
    });
  } else {
    console.error('usage: node scripts/build-inputs.mjs begin|end');
    process.exit(2);
  }
}
