// Disk full: the server's data directory on a small tmpfs filled to the brim while `ferry upload`
// runs. Checked: chunks that do not fit get 507, the CLI keeps retrying them, and once space is freed
// the same run completes byte-identical with nothing acknowledged lost.
import { statfs, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { jsonEvents, startCli } from '../../helpers/cli.js';
import { startTestServer, tempDir } from '../../helpers/server.js';
import { mountSmallFilesystem } from '../../helpers/small-fs.js';
import { auditDataDir } from '../support/audit.js';
import type { ScenarioResult } from '../support/report.js';
import { MiB, makeSource, sha256Url } from '../support/source.js';
import { waitFor } from '../support/wait.js';

export interface DiskFullOptions {
  /** tmpfs size, e.g. '16m'. */
  fsSize: string;
  size: number;
  chunkSize: number;
  /** Bytes left free when the filler is written. */
  leaveFree: number;
  /** 507 answers to see before space is freed. */
  full507s: number;
  seed: number;
}

export async function runDiskFullScenario(o: DiskFullOptions): Promise<ScenarioResult> {
  const name = `\`ferry upload\` to a server whose ${o.fsSize} tmpfs fills up mid-upload, space freed later`;
  const small = mountSmallFilesystem(o.fsSize);
  if (!('dir' in small)) {
    return { group: 'disk full', name, seed: o.seed, size: o.size, faults: {}, completed: null, identical: null, resentBytes: null, durationMs: 0, checks: {}, notes: [`SKIPPED: cannot mount a tmpfs (${small.reason})`] };
  }
  const workDir = await tempDir('ferry-chaos-full-');
  const server = await startTestServer({ dataDir: join(small.dir, 'data') });
  // The disk fills after the upload was admitted (as when something else on the volume writes): the
  // create-time room check is told nothing, so it is the chunk PUTs that meet the full disk.
  server.ctx.blobs.freeSpace = async () => null;
  const source = await makeSource(workDir, o.size, o.seed);
  const filler = join(small.dir, 'filler');
  const m = server.ctx.metrics;
  const full = () => m.get('ferry_chunks_failed_total', { code: 'insufficient-storage' });
  const started = Date.now();
  try {
    const fs = await statfs(small.dir);
    await writeFile(filler, Buffer.alloc(Math.max(0, fs.bavail * fs.bsize - o.leaveFree)));
    const run = startCli(['upload', source.path, '--server', server.url, '--chunk-size', String(o.chunkSize), '--concurrency', '2', '--json'], {
      FERRY_STATE_DIR: join(workDir, 'state'),
    });
    // Keep the disk full until the server has refused chunks for lack of space and the CLI said it retries.
    const retried = () => jsonEvents(run.lines, 'note').filter((n) => /retrying/.test(n.message) && /room|storage|space|507/i.test(n.message)).length;
    let exitedEarly = false;
    void run.done.then(() => (exitedEarly = true));
    await waitFor('507s and retries', () => (full() >= o.full507s && retried() > 0) || exitedEarly, { timeoutMs: 120_000 });
    const refusedWhileFull = full();
    const storedWhileFull = m.get('ferry_chunk_bytes_stored_total');
    await rm(filler);
    const r = await run.done;
    const durationMs = Date.now() - started;
    const done = jsonEvents(r.stdout.split('\n'), 'done')[0];
    const check = done ? await sha256Url(done.fileUrl) : null;
    const audit = await auditDataDir(server.dataDir);
    const notes = [`${o.chunkSize / MiB} MiB chunks`, `${(storedWhileFull / MiB).toFixed(1)} MiB stored before the disk filled`, `${retried()} retry notes from the CLI`];
    if (r.code !== 0) notes.push(`exited ${r.code}: ${r.stderr.trim().split('\n').pop()}`);
    notes.push(...audit.problems.slice(0, 3));
    return {
      group: 'disk full',
      name,
      seed: o.seed,
      size: o.size,
      faults: { '507 answers': full() },
      completed: r.code === 0 && done !== undefined,
      identical: check ? check.sha === source.sha : null,
      resentBytes: m.get('ferry_chunk_bytes_received_total') - o.size,
      durationMs,
      checks: {
        'chunks refused with 507 while full': refusedWhileFull >= o.full507s,
        'the same CLI run completed after space was freed': r.code === 0,
        'stored exactly once': m.get('ferry_chunk_bytes_stored_total') === o.size,
        'no orphaned bytes or rows': audit.problems.length === 0,
        'no 500s': m.get('ferry_chunks_failed_total', { code: 'internal-error' }) === 0,
      },
      notes,
    };
  } finally {
    await server.dispose();
    await rm(filler, { force: true });
    small.unmount();
    await rm(workDir, { recursive: true, force: true });
  }
}
