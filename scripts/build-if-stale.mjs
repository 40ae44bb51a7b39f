// `npm start`'s prestart (and pretest, prepare): runs `npm run build` only when dist/ is missing or
// any of its inputs changed since the last finished build (see build-inputs.mjs). Unchanged, it costs
// about as much as starting node; a full build costs 6-16 s on the 2-core machine. prepack passes
// --clean: dist/ is removed and built whole.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { firstDifference, outputs, readInputs, readRecord, root } from './build-inputs.mjs';

async function reason() {
  const missing = outputs.find((path) => !existsSync(join(root, path)));
  if (missing) return `${missing} is missing`;
  const record = await readRecord();
  if (record === null) return 'no finished build recorded';
  return firstDifference(record, await readInputs());
}

// --clean (prepack): a package holds exactly what the sources build, not what deleted sources left.
const clean = process.argv.includes('--clean');
if (clean) rmSync(join(root, 'dist'), { recursive: true, force: true });
const why = clean ? 'a clean build for the package' : await reason();
if (why === null) process.exit(0);
// --check: only say whether a build is needed (exit 1 and why), as a test does before relying on dist/.
if (process.argv.includes('--check')) {
  console.error(`dist/ is out of date: ${why}`);
  process.exit(1);
}

console.error(`ferry: building dist/ (${why})`);
// Under npm, npm_execpath is the npm that runs us (the same one whatever PATH says).
const npm = process.env.npm_execpath;
const result = npm
  ? spawnSync(process.execPath, [npm, 'run', 'build'], { cwd: root, stdio: 'inherit' })
  : spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
process.exit(result.status ?? 1);
