// npm run bench: one run, on this machine over loopback, of every benchmark in issue 7 and issue 17's
// tus comparison; prints the tables and rewrites docs/benchmarks.md. `--help` lists the options.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { allSections, type BenchContext, type BenchOptions, type SectionName } from './lib/context.js';
import { describeMachine, versions } from './lib/machine.js';
import { prepareTools } from './lib/prereqs.js';
import { targetsTable, textTable, type SectionReport } from './lib/report.js';
import { formatBytes, GiB, MiB, parseSize } from './lib/stats.js';
import { busyCores } from './lib/system-cpu.js';
import { generateFile, WorkDir } from './lib/workdir.js';
import { limitsTable } from './limits.js';
import { renderMarkdown, spliceSections } from './markdown.js';
import { clusterSection } from './sections/cluster.js';
import { downloadSection } from './sections/download.js';
import { memorySection } from './sections/memory.js';
import { scalingSection } from './sections/scaling.js';
import { shaSection } from './sections/sha.js';
import { tusSection } from './sections/tus.js';
import { uploadSection } from './sections/upload.js';
import { wanSection } from './sections/wan.js';
import { wanProfiles } from './lib/wan-profiles.js';

const repo = resolve(import.meta.dirname, '..');
const sectionRunners: Record<SectionName, (ctx: BenchContext) => Promise<SectionReport>> = {
  sha: shaSection,
  upload: uploadSection,
  tus: tusSection,
  download: downloadSection,
  memory: memorySection,
  scaling: scalingSection,
  cluster: clusterSection,
  wan: wanSection,
};

const usage = `npm run bench -- [options]
  --size <size>          generated file size (default 1GiB; smoke: 16MiB)
  --rounds <n>           alternation rounds for upload, tus and download (default 5; smoke: 1)
  --scaling-rounds <n>   rounds for the scaling figures (default 5; smoke: 1)
  --sections <list>      comma-separated subset of ${allSections.join(',')}
                         (cluster needs FERRY_TEST_S3_* naming an S3 service; without them it is skipped, saying so;
                         tus: tus-js-client → Ferry's /tus/ endpoint against @tus/server, e.g. --sections tus;
                         wan: transfers through emulated long-distance links, about 12 min at the defaults)
  --wan-size <size>      file size for the WAN section (default 256MiB; smoke: 12MiB; 1GiB takes about 4 × as long)
  --wan-rounds <n>       alternation rounds on each emulated link (default 3; smoke: 1)
  --wan-profiles <list>  comma-separated subset of ${wanProfiles.map((p) => p.name).join(',')} (default all)
  --smoke                fast run for the test suite: tiny sizes, a couple of contenders
  --out <file>           Markdown report (default docs/benchmarks.md; "-" for none); with --sections, an
                         existing report keeps everything but those sections
  --no-install           never apt-get install missing tools
  --only <ids>           only these contenders (e.g. ferry-cli,raw-sync; ids are listed in the progress lines)
  --baseline <dir>       another checkout with a built dist/: its ferry upload and download run as extra
                         rows beside this build's (side-by-side comparison of a change), on loopback
                         and on every emulated link
  --keep                 keep the scratch directory`;

function parseOptions(): BenchOptions & { keep: boolean } {
  const { values } = parseArgs({
    options: {
      size: { type: 'string' },
      rounds: { type: 'string' },
      'scaling-rounds': { type: 'string' },
      sections: { type: 'string' },
      smoke: { type: 'boolean', default: false },
      out: { type: 'string' },
      'no-install': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      baseline: { type: 'string' },
      'wan-size': { type: 'string' },
      'wan-rounds': { type: 'string' },
      'wan-profiles': { type: 'string' },
      only: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const smoke = values.smoke!;
  const count = (text: string | undefined, fallback: number) => {
    const n = text === undefined ? fallback : Number(text);
    if (!Number.isInteger(n) || n < 1) throw new Error(`Not a positive integer: ${text}`);
    return n;
  };
  const sections = new Set((values.sections?.split(',') ?? allSections) as SectionName[]);
  for (const s of sections) if (!allSections.includes(s)) throw new Error(`Unknown section ${s}; known: ${allSections.join(', ')}`);
  const profileNames = wanProfiles.map((p) => p.name);
  const wanProfileSet = new Set(values['wan-profiles']?.split(',') ?? profileNames);
  for (const p of wanProfileSet) if (!profileNames.includes(p)) throw new Error(`Unknown WAN profile ${p}; known: ${profileNames.join(', ')}`);
  return {
    size: values.size ? parseSize(values.size) : smoke ? 16 * MiB : 1 * GiB,
    rounds: count(values.rounds, smoke ? 1 : 5),
    scalingRounds: count(values['scaling-rounds'], smoke ? 1 : 5),
    sections,
    smoke,
    out: values.out ?? resolve(repo, 'docs/benchmarks.md'),
    install: !values['no-install'],
    only: values.only ? new Set(values.only.split(',')) : null,
    keep: values.keep!,
    baseline: values.baseline ? resolveBaseline(values.baseline) : null,
    wanSize: values['wan-size'] ? parseSize(values['wan-size']) : smoke ? 12 * MiB : 256 * MiB,
    wanRounds: count(values['wan-rounds'], smoke ? 1 : 3),
    wanProfiles: wanProfileSet,
  };
}

function resolveBaseline(dir: string): string {
  const at = resolve(dir);
  if (!existsSync(resolve(at, 'dist/cli/main.js'))) throw new Error(`--baseline ${dir}: no dist/cli/main.js there (build that checkout first)`);
  return at;
}

async function main(): Promise<void> {
  const options = parseOptions();
  const log = (line: string) => process.stderr.write(`${line}\n`);
  if (!existsSync(resolve(repo, 'dist/cli/main.js'))) throw new Error('dist/ is missing: run `npx tsc -p tsconfig.build.json` (npm run bench does).');
  const startedAt = new Date();
  const started = performance.now();
  const tools = await prepareTools(log, { install: options.install });
  const work = new WorkDir();
  try {
    const machine = await describeMachine(work.root);
    const vers = await versions(repo, tools);
    // The WAN section makes its own (smaller) file: a run of it alone needs no other.
    const needsFile = [...options.sections].some((s) => s !== 'wan');
    const wan = options.sections.has('wan') ? `; WAN links: ${formatBytes(options.wanSize)} file, ${options.wanRounds} rounds` : '';
    log(`Ferry benchmark: ${needsFile ? `${formatBytes(options.size)} file, ${options.rounds} rounds` : 'WAN section only'}${wan}, scratch ${work.root}`);
    log(`  ${machine.cpu}; ${machine.memory} RAM; load ${machine.load}`);
    // The largest moment: the source, 4 × size uploaded by one client, plus the upload in flight.
    // WAN: the source, the file stored for downloads, one upload and one download at a time.
    const needed = (needsFile ? 6 * options.size : 0) + (options.sections.has('wan') ? 4 * options.wanSize : 0) + 1024 * MiB;
    if (work.freeBytes() < needed) {
      throw new Error(`${formatBytes(work.freeBytes())} free under ${work.root}; this run needs about ${formatBytes(needed)} (use a smaller --size).`);
    }
    const busy = await busyCores(1000);
    if (busy !== null && busy > 0.3) log(`  warning: other processes keep ${busy.toFixed(1)} cores busy: figures will be noisy; see "other load".`);
    const file = work.path(`source-${formatBytes(options.size).replace(/\s/g, '')}.bin`);
    if (needsFile) {
      log(`generating ${formatBytes(options.size)} of random data…`);
      await generateFile(file, options.size);
    }
    const ctx: BenchContext = {
      repo,
      work,
      tools,
      options,
      log,
      file,
      // NODE_EXTRA_CA_CERTS makes every Node process parse that CA bundle as it starts (44 ms here, where
      // the sandbox points it at the system bundle); loopback http needs no certificate, and a user's
      // machine does not usually set it. Unset for every client: only Node ones start faster for it.
      // Loopback figures: a proxy configured on the machine must not carry the clients' requests.
      env: { repo, clientEnv: { FERRY_STATE_DIR: work.dir('client-state'), NODE_EXTRA_CA_CERTS: undefined, HTTP_PROXY: undefined, HTTPS_PROXY: undefined, http_proxy: undefined, https_proxy: undefined } },
    };
    const reports: [SectionName, SectionReport][] = [];
    for (const name of allSections) {
      if (!options.sections.has(name)) continue;
      log(`\n== ${name} ==`);
      reports.push([name, await sectionRunners[name](ctx)]);
    }
    const minutes = (performance.now() - started) / 60_000;
    const loadEnd = loadavg().map((l) => l.toFixed(2)).join(' ');
    const tables = reports.flatMap(([, r]) => r.tables);
    const targets = reports.flatMap(([, r]) => r.targets);
    const limits = limitsTable(Object.assign({}, ...reports.map(([, r]) => r.facts ?? {})), options.size);
    const text = [...tables, ...(targets.length ? [targetsTable(targets)] : []), ...(limits ? [limits] : [])].map(textTable).join('\n\n');
    process.stdout.write(`\n${text}\n\nTotal time: ${minutes.toFixed(1)} min\n`);
    if (options.out !== '-') {
      const input = { machine, versions: vers, options, startedAt, minutes, reports, limits, repo, loadEnd };
      // Some sections only, into a report that exists: just those sections are replaced (see spliceSections).
      const existing = options.sections.size < allSections.length && !options.smoke && existsSync(options.out) ? readFileSync(options.out, 'utf8') : null;
      const partial = existing?.startsWith('# Benchmarks') ? existing : null;
      writeFileSync(options.out, partial ? spliceSections(partial, input) : renderMarkdown(input));
      log(`wrote ${options.out}${partial ? ` (the ${[...options.sections].join(', ')} section(s) only)` : ''}`);
    }
  } finally {
    if (options.keep) log(`scratch directory kept: ${work.root}`);
    else work.dispose();
  }
}

// Exits when done: the cluster section's embedded PostgreSQL (stopped by its watchdog when this process
// ends) would otherwise keep it alive.
main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
