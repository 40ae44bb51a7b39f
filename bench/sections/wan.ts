// Emulated long-distance links (issue 19): Ferry's upload and download against tus-js-client (one
// stream), aria2c -x4 / -x16 and curl, each through a link emulator in front of the server, on the
// profiles of bench/lib/wan-profiles.ts. Each row's time is set against the link's floor (size ÷ the
// shared capacity): a transfer that fills the link takes the floor.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { wanAria2, wanCurl, wanFerryDownload, wanFerryUpload, wanTusUpload, type WanDownloadTarget, type WanRun } from '../contenders/wan.js';
import { lastJson, measureClient } from '../contenders/common.js';
import { alternate, type Contender, type ContenderResult } from '../lib/contender.js';
import { pick, type BenchContext } from '../lib/context.js';
import { targetsTable, type SectionReport, type Table, type Target } from '../lib/report.js';
import { formatBytes, MiB, mibPerSecond, seconds, summarize } from '../lib/stats.js';
import { describeProfile, floorSeconds, mediumFaults, smokeProfile, wanProfiles, type WanProfile } from '../lib/wan-profiles.js';
import { generateFile } from '../lib/workdir.js';
import { ServerSet, startFerry } from '../servers/spawn.js';
import { ferryDownloadMissing } from './download.js';
import { speedRatio } from './tables.js';
import { sha256File } from '../../test/chaos/support/source.js';

export async function wanSection(ctx: BenchContext): Promise<SectionReport> {
  const { work, repo, options, tools, env } = ctx;
  const size = options.wanSize;
  const profiles = options.smoke ? [smokeProfile] : wanProfiles.filter((p) => options.wanProfiles.has(p.name));
  const file = size === options.size && existsSync(ctx.file) ? ctx.file : work.path(`wan-source-${formatBytes(size).replace(/\s/g, '')}.bin`);
  if (!existsSync(file)) {
    ctx.log(`generating ${formatBytes(size)} of random data for the WAN links…`);
    await generateFile(file, size);
  }
  const sha = await sha256File(file);
  const servers = new ServerSet();
  try {
    // Uploads land on one server (emptied after each run); downloads read the file from another.
    const ferryUp = await servers.add(startFerry(repo, work.dir('wan-ferry-up')));
    const ferryDown = await servers.add(startFerry(repo, work.dir('wan-ferry-down')));
    const tus = options.smoke
      ? null
      : await servers.tusOrSkip(repo, work.dir('wan-tus'), ctx.log);
    const cli = join(repo, 'dist/cli/main.js');
    const { run } = await measureClient(process.execPath, [cli, 'upload', file, '--server', ferryDown.url, '--json'], null, env.clientEnv);
    const source: WanDownloadTarget = {
      server: ferryDown,
      path: new URL(lastJson<{ fileUrl: string }>(run.stdout).fileUrl).pathname,
      out: join(work.dir('wan-out'), 'download.bin'),
    };
    for (const s of servers.all) work.assertSameFilesystem(s.dataDir);
    const missing = await ferryDownloadMissing(repo);
    const results = new Map<WanProfile, ContenderResult[]>();
    for (const profile of profiles) {
      const w: WanRun = { env, profile, file, size, sha };
      const contenders: Contender[] = [wanFerryUpload(w, ferryUp)];
      if (options.baseline) contenders.push(wanFerryUpload(w, ferryUp, options.baseline));
      if (!options.smoke) contenders.push(wanTusUpload(w, tus, tus ? null : '@tus/server did not start (is it installed? npm install)'));
      contenders.push(wanFerryDownload(w, source, missing));
      if (options.baseline) contenders.push(wanFerryDownload(w, source, missing, options.baseline));
      if (!options.smoke) contenders.push(wanAria2(w, tools.aria2c, source, 4), wanAria2(w, tools.aria2c, source, 16));
      contenders.push(wanCurl(w, tools.curl, source));
      const floor = floorSeconds(profile, size);
      ctx.log(`WAN ${profile.name} (${describeProfile(profile)}; floor ${seconds(floor)} s): ${contenders.filter((c) => !c.skip).length} contenders × ${options.wanRounds} rounds`);
      // No warm-up and no waiting for a quiet machine: the link, not the CPU, sets the pace here.
      results.set(profile, await alternate(`wan ${profile.name}`, pick(ctx, contenders), options.wanRounds, ctx.log, { warmUp: false, waitForQuiet: false }));
    }
    const tables = [profilesTable(profiles, size), ...profiles.map((p) => profileTable(p, size, options.wanRounds, results.get(p)!))];
    tables.push(targetsOf(profiles, size, results));
    return { tables, targets: [] };
  } finally {
    await servers.stop();
  }
}

const rate = (n: number) => `${+(n / MiB).toFixed(1)} MiB/s`;
const percent = (x: number) => `${(100 * x).toFixed(x < 0.1 ? 1 : 0)} %`;

function profilesTable(profiles: WanProfile[], size: number): Table {
  return {
    title: 'Link profiles',
    intro:
      'Every transfer below goes through a link emulator on loopback (bench/lib/link.ts, in a process of its own at a raised priority where allowed): ' +
      'each byte is delayed by half the round trip each way, in order; a new connection waits one round trip (the TCP handshake) before its first byte leaves; ' +
      'each connection is capped at its own rate each way (as window ÷ RTT and per-flow shaping cap one TCP connection on a real WAN), and all connections share the link\'s capacity each way, ' +
      'split max-min fairly in 2 ms slices; the link reads ahead a bounded amount per connection and pauses the sender beyond it. ' +
      `The lossy link adds the chaos tests' medium faults (cuts and stalls, no bit flips): ${percent(mediumFaults.cutRate)} of connections are cut after ${formatBytes(mediumFaults.cutAfterBytes[0])}–${formatBytes(mediumFaults.cutAfterBytes[1])} of the file's direction, ` +
      `${percent(mediumFaults.stallRate)} freeze for ${mediumFaults.stallMs / 1000} s, the same seeded schedule for every run. ` +
      `The floor is the file size ÷ the shared capacity: the time of a transfer that keeps the link full from start to end; "connections to fill it" is shared ÷ per-connection capacity.`,
    columns: ['profile', 'RTT', 'per connection', 'shared', 'faults', 'connections to fill it', 'bandwidth × delay', `floor for ${formatBytes(size)}`],
    rows: profiles.map((p) => [
      p.name,
      `${p.rttMs} ms`,
      rate(p.perConnectionBytesPerSecond),
      rate(p.sharedBytesPerSecond),
      p.lossy ? 'medium cuts and stalls' : 'none',
      String(Math.ceil(p.sharedBytesPerSecond / p.perConnectionBytesPerSecond)),
      formatBytes(Math.round((p.sharedBytesPerSecond * p.rttMs) / 1000)),
      `${seconds(floorSeconds(p, size))} s`,
    ]),
  };
}

/** Median of one `extra` figure over a contender's runs (null when it has none). */
function medianExtra(r: ContenderResult, key: string): number | null {
  return summarize(r.runs.flatMap((m) => (m.extra?.[key] === undefined ? [] : [m.extra[key]!])))?.median ?? null;
}

function profileTable(p: WanProfile, size: number, rounds: number, results: ContenderResult[]): Table {
  const floor = floorSeconds(p, size);
  const rows = results.map((r) => {
    const s = r.seconds;
    if (!s) {
      const why = r.contender.skip ?? (r.errors.length ? `failed: ${r.errors[0]!.split('\n')[0]!.slice(0, 120)}` : 'no run');
      return [r.contender.label, '—', '—', '—', '—', '—', '—', '—', '—', '—', ...(p.lossy ? ['—'] : []), why];
    }
    const resent = medianExtra(r, 'resentBytes');
    const carried = medianExtra(r, 'linkBytes');
    const inFlight = medianExtra(r, 'peakInFlight');
    const peakRss = Math.max(...r.runs.map((m) => m.peakRssBytes ?? 0));
    const cuts = medianExtra(r, 'cuts');
    const engine = medianExtra(r, 'engineSeconds');
    return [
      r.contender.label,
      seconds(s.median),
      `${seconds(s.min)}–${seconds(s.max)}`,
      engine === null ? '—' : seconds(engine),
      mibPerSecond(size, s.median),
      percent(floor / s.median),
      inFlight === null ? '—' : String(inFlight),
      resent === null ? '—' : `${percent(resent / size)} (${formatBytes(Math.max(0, resent))})`,
      carried === null ? '—' : `${(carried / size).toFixed(3)}×`,
      peakRss ? `${(peakRss / MiB).toFixed(0)} MiB` : '—',
      ...(p.lossy ? [cuts === null ? '—' : String(cuts)] : []),
      r.cpuSeconds ? seconds(r.cpuSeconds.median) : '—',
    ];
  });
  const linkCpu = summarize(results.flatMap((r) => r.runs.flatMap((m) => (m.extra?.linkCpu === undefined ? [] : [m.extra.linkCpu / m.seconds]))));
  const gap = Math.max(0, ...results.flatMap((r) => r.runs.map((m) => m.extra?.linkGapMs ?? 0)));
  // Time the link could not make up for, as a share of each run: the link carried that much less than its profile.
  const lost = Math.max(0, ...results.flatMap((r) => r.runs.map((m) => (m.extra?.linkLostMs ?? 0) / 1000 / m.seconds)));
  return {
    title: `WAN, ${p.name} link (${describeProfile(p)}): ${formatBytes(size)}, floor ${seconds(floor)} s (${rounds} rounds, alternated)`,
    intro:
      'Wall-clock seconds per transfer, the client process started and ended (tus-js-client: timed inside its process, without its start-up). ' +
      '"transfer s": the transfer as Ferry\'s CLI times it, without starting and stopping its process (median). "share of the link" is the floor ÷ the median (wall clock). "peak in flight": the most requests the Ferry client allowed in flight (its concurrency limit, from its --json progress lines, every 500 ms), median over runs. ' +
      '"resent": bytes the Ferry client sent (upload) or fetched (download) beyond the file\'s size, median, as the client counts them: a request cut part-way counts whole. ' +
      '"over the link": bytes the link carried in the file\'s direction ÷ the file\'s size (HTTP headers and everything sent again included). ' +
      `Client peak RSS: the highest of the runs. CPU is client + server. Every file that arrived was checked against the source's SHA-256 (untimed).` +
      (p.lossy ? ' "cuts": connections the link cut in a run (median).' : ''),
    columns: ['contender', 'median s', 'min–max s', 'transfer s', 'MiB/s', 'share of the link', 'peak in flight', 'resent', 'over the link', 'client peak RSS', ...(p.lossy ? ['cuts'] : []), 'CPU s'],
    rows,
    notes: [
      `The link emulator used ${linkCpu ? `${linkCpu.median.toFixed(2)} of a core (median over runs)` : '? of a core'}; ` +
        `the longest gap between its 2 ms slices was ${gap.toFixed(0)} ms; ` +
        `gaps beyond the 100 ms a slice makes up for cost at most ${percent(lost)} of a run's time${lost > 0.02 ? ' (its process was kept waiting for the CPU: such runs carried less than the profile allows)' : ''}.`,
    ],
  };
}

function targetsOf(profiles: WanProfile[], size: number, results: Map<WanProfile, ContenderResult[]>): Table {
  const targets: Target[] = [];
  for (const p of profiles) {
    const list = results.get(p)!;
    const by = (id: string) => list.find((r) => r.contender.id === id);
    const floor = floorSeconds(p, size);
    for (const [id, what] of [['wan-ferry-upload', 'upload'], ['wan-ferry-download', 'download']] as const) {
      const t = by(id)?.seconds?.median;
      targets.push({
        name: `${p.name}: ferry ${what} fills the link`,
        goal: `≥ 90 % of the link (≤ ${seconds(floor / 0.9)} s)`,
        measured: t === undefined ? 'not measured' : `${percent(floor / t)} (${seconds(t)} s, floor ${seconds(floor)} s)`,
        met: t === undefined ? null : floor / t >= 0.9,
      });
    }
    if (by('wan-aria2-x16')) targets.push(speedRatio(`${p.name}: ferry download vs aria2c -x16`, '≥ 1.00× aria2c -x16 -s16', by('wan-ferry-download'), by('wan-aria2-x16'), 1.0));
    if (by('wan-tus')) targets.push(speedRatio(`${p.name}: ferry upload vs tus`, '≥ 5.00× tus-js-client (one stream)', by('wan-ferry-upload'), by('wan-tus'), 5.0));
    if (p.lossy) {
      for (const [id, what] of [['wan-ferry-upload', 'upload'], ['wan-ferry-download', 'download']] as const) {
        const r = by(id);
        // What crossed the link twice: the link counts what it delivered, so a request cut part-way
        // counts only what arrived (the client cannot tell how much of its request left it).
        const twice = r ? r.runs.flatMap((m) => (m.extra?.linkBytes === undefined ? [] : [m.extra.linkBytes - size])) : [];
        const worst = twice.length ? Math.max(...twice) : null;
        targets.push({
          name: `${p.name}: ferry ${what} sends little twice`,
          goal: '≤ 10 % of the file carried twice over the link, headers included (every run)',
          measured: worst === null ? 'not measured' : `${percent(worst / size)} at most (${formatBytes(Math.max(0, worst))})`,
          met: worst === null ? null : worst <= 0.1 * size,
        });
      }
    }
  }
  // The memory budget of issue 7's memory section: 2 × requests in flight × chunk size + 100 MiB.
  for (const [id, what] of [['wan-ferry-upload', 'upload'], ['wan-ferry-download', 'download']] as const) {
    const runs = profiles.flatMap((p) => results.get(p)!.find((r) => r.contender.id === id)?.runs ?? []);
    const judged = runs.flatMap((m) => {
      const inFlight = m.extra?.peakInFlight;
      const chunk = m.extra?.chunkSize;
      if (!m.peakRssBytes || !inFlight || !chunk) return [];
      const budget = 2 * inFlight * chunk + 100 * MiB;
      return [{ rss: m.peakRssBytes, budget, share: m.peakRssBytes / budget }];
    });
    const worst = judged.sort((a, b) => b.share - a.share)[0];
    targets.push({
      name: `ferry ${what} client memory on every link`,
      goal: '≤ 2 × in flight × chunk size + 100 MiB',
      measured: worst ? `${(worst.rss / MiB).toFixed(0)} MiB at most against its budget of ${(worst.budget / MiB).toFixed(0)} MiB` : 'not measured',
      met: worst ? worst.share <= 1 : null,
    });
  }
  // In the section itself: a run of this section alone (--sections wan) rewrites only its own block.
  return { ...targetsTable(targets), title: 'WAN targets' };
}
