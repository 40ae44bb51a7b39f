// `npm run abuse`: every probe of issue 15 at full size against a real `ferry serve` (the built CLI,
// as `npm start` runs it, loopback, open mode, default limits), one server per probe; prints a table
// of result against bound. `--write` puts it into docs/reliability.md; `--only slow-body,host` picks
// probes. Exits 1 if any probe failed. A few minutes in all.
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeResultsBlock } from '../chaos/support/report.js';
import { probes } from './probes/index.js';
import { earlierStacks } from './probes/request-id.js';
import { passed, runProbe, type ProbeResult } from './support/harness.js';
import { abuseMarkers, abuseTable, summaryLine } from './support/table.js';

const { values } = parseArgs({ options: { only: { type: 'string' }, write: { type: 'boolean', default: false } } });
const only = values.only?.split(',');
const chosen = probes.filter((p) => !only || only.includes(p.id));
if (only && chosen.length !== only.length) {
  console.error(`unknown probe in --only; probes: ${probes.map((p) => p.id).join(', ')}`);
  process.exit(2);
}

const started = Date.now();
const results = new Map<string, ProbeResult>();
const report = (r: ProbeResult) => {
  results.set(r.id, r);
  console.log(summaryLine(r));
  if (r.error) console.error(r.error);
};
// One probe at a time. With the slow-body probe running beside it, the slow-readers probe saw only
// ~180 of its 1,000 readers start (968 alone), a disturbance in this shared runner not pinned down;
// each probe now has the machine to itself, at the cost of the slow-body probe's 30 s.
for (const p of chosen) {
  if (p.id === 'request-id') {
    // The log half of this probe covers the whole run: every probe before it.
    earlierStacks.lines = [...results.values()].reduce((n, r) => n + r.stackLines, 0);
    earlierStacks.probes = results.size;
  }
  report(await runProbe(p));
}

const ordered = chosen.map((p) => results.get(p.id)!);
const table = abuseTable(ordered);
console.log(`\n${table}\n`);
const failed = ordered.filter((r) => !passed(r));
const total = (Date.now() - started) / 1000;
const cpu = cpus();
let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: import.meta.dirname, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  if (execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: import.meta.dirname, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()) commit += ' + uncommitted changes';
} catch {
  // not a git checkout
}
const header = [
  `Last run: ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, \`npm run abuse${process.argv.slice(2).length ? ' -- ' + process.argv.slice(2).join(' ') : ''}\`, commit ${commit};`,
  `${cpu.length} × ${cpu[0]?.model.trim() ?? 'CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, Linux; ${(total / 60).toFixed(1)} min in all;`,
  failed.length ? `**${failed.length} of ${ordered.length} probe(s) failed.**` : `all ${ordered.length} probes held.`,
].join(' ');
if (values.write) {
  await writeResultsBlock(resolve(import.meta.dirname, '../../docs/reliability.md'), `${header}\n\n${table}`, abuseMarkers);
  console.log('Wrote the table into docs/reliability.md.');
}
console.log(header);
process.exit(failed.length ? 1 : 0);
