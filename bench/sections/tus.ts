// tus clients (issue 17): the same tus-js-client, in Node with its default options, uploads the same
// file to Ferry's tus endpoint (/tus/) and to tus's reference server (@tus/server + @tus/file-store),
// rounds alternated; then with parallelUploads: 4, which needs the concatenation extension.
import { ferryLibUpload } from '../contenders/upload-ferry.js';
import { tusClient, tusToFerry } from '../contenders/upload-tus.js';
import { alternate, type Contender, type ContenderResult } from '../lib/contender.js';
import { pick, type BenchContext } from '../lib/context.js';
import type { SectionReport } from '../lib/report.js';
import { formatBytes } from '../lib/stats.js';
import { emptyDir } from '../lib/workdir.js';
import { ServerSet, startFerry } from '../servers/spawn.js';
import { factsOf, throughputTable } from './tables.js';

const parallel = 4;

export async function tusSection(ctx: BenchContext): Promise<SectionReport> {
  const { work, repo, file, options, env } = ctx;
  const servers = new ServerSet();
  try {
    // Ferry as the other rows run it: `ferry serve` defaults (fsync on), `node --single-threaded-gc`.
    const ferry = await servers.add(startFerry(repo, work.dir('tus-ferry')));
    const tus = await servers.tusOrSkip(repo, work.dir('tus-server'), ctx.log);
    const tusMissing = tus ? null : '@tus/server did not start (is it installed? npm install)';
    // What the reference server says it supports decides whether parallelUploads can be measured there.
    const tusExtensions = tus ? await extensionsOf(tus.url) : null;
    const noConcat = tusExtensions && !tusExtensions.includes('concatenation') ? 'not supported (no concatenation extension)' : null;
    const cleanTus = () => (tus ? emptyDir(tus.dataDir) : Promise.resolve());

    const contenders: Contender[] = [
      tusToFerry(env, file, 'tus-ferry', 'tus-js-client → Ferry /tus/', ferry),
      tusClient(env, file, { id: 'tus-server', label: 'tus-js-client → @tus/server (file-store)', server: tus, endpoint: tus?.url ?? null, skip: tusMissing, clean: cleanTus }),
    ];
    if (!options.smoke) {
      const ferryNoSync = await servers.add(startFerry(repo, work.dir('tus-ferry-nofsync'), ['--no-fsync']));
      contenders.push(tusToFerry(env, file, 'tus-ferry-nofsync', 'tus-js-client → Ferry /tus/, server --no-fsync', ferryNoSync));
    }
    contenders.push(
      tusToFerry(env, file, 'tus-ferry-p4', `tus-js-client parallelUploads: ${parallel} → Ferry /tus/`, ferry, parallel),
      tusClient(env, file, {
        id: 'tus-server-p4',
        label: `tus-js-client parallelUploads: ${parallel} → @tus/server (file-store)`,
        server: tus,
        endpoint: tus?.url ?? null,
        parallelUploads: parallel,
        skip: tusMissing ?? noConcat,
        clean: cleanTus,
      }),
    );
    // For scale: Ferry's own client on the same server (its protocol: chunks with digests, 4 in flight).
    if (!options.smoke) contenders.push(ferryLibUpload(env, 'tus-ferry-lib', "Ferry library (Ferry's protocol) → the same server", file, ferry));
    for (const s of servers.all) work.assertSameFilesystem(s.dataDir);
    ctx.log(`tus upload of ${formatBytes(options.size)}: ${contenders.filter((c) => !c.skip).length} contenders × ${options.rounds} rounds`);
    const results = await alternate('tus', pick(ctx, contenders), options.rounds, ctx.log, { warmUp: !options.smoke, waitForQuiet: !options.smoke });
    return report(ctx, results, tusExtensions);
  } finally {
    await servers.stop();
  }
}

/** The Tus-Extension list a tus server answers OPTIONS with (null when it does not answer). */
async function extensionsOf(url: string): Promise<string[] | null> {
  const res = await fetch(url, { method: 'OPTIONS', headers: { 'tus-resumable': '1.0.0' } }).catch(() => null);
  if (!res) return null;
  await res.arrayBuffer();
  return (res.headers.get('tus-extension') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function report(ctx: BenchContext, results: ContenderResult[], tusExtensions: string[] | null): SectionReport {
  const by = (id: string) => results.find((r) => r.contender.id === id);
  const table = throughputTable(
    `tus-js-client upload of ${formatBytes(ctx.options.size)}: Ferry /tus/ and @tus/server (${ctx.options.rounds} rounds, alternated)`,
    ctx.options.size,
    results,
    by('tus-server'),
    'vs @tus/server',
  );
  table.intro =
    'The same client, tus-js-client in Node, uploads the same file (a file read stream, default options: one `PATCH` carrying the whole file) ' +
    'to Ferry and to @tus/server with @tus/file-store, both servers on the same disk; seconds are timed inside the client process (no start-up), CPU is client + server, "other load" as in the upload table (above ~0.2 the figures are disturbed). ' +
    'Ferry runs with its defaults, as in the upload table: **fsync on**, so every 8 MiB chunk of the stream is hashed (SHA-256, for the manifest), `fdatasync`ed and recorded before it counts. ' +
    '@tus/file-store never calls `fsync`; the `--no-fsync` row is Ferry without it too. ' +
    `With \`parallelUploads: ${parallel}\` the client sends ${parallel} partial uploads at once, then a final upload that concatenates them: ` +
    "Ferry reads the partials' bytes back and writes them into the final upload's chunks (one more pass over the file on the server). " +
    '"vs @tus/server" is @tus/server\'s median time divided by the row\'s (higher is faster).';
  if (tusExtensions && !tusExtensions.includes('concatenation')) {
    table.notes = [
      `@tus/server with @tus/file-store answers OPTIONS with \`Tus-Extension: ${tusExtensions.join(',')}\`: ` +
        `without concatenation, tus-js-client's \`parallelUploads\` cannot upload to it.`,
    ];
  }
  return { tables: [table], targets: [], facts: factsOf('tus', results) };
}
