// Client crashes: `ferry upload` SIGKILLed again and again during one upload (while creating it,
// mid-chunk, right after acknowledgements) and re-run with the same command each time. Checked: it
// resumes every time, the file is byte-identical, it re-sends little more than the chunks in flight
// at each kill, and once abandoned uploads expire no orphaned bytes or rows remain.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { jsonEvents, runCli, startCli, type CliRun } from '../../helpers/cli.js';
import { startTestServer, tempDir } from '../../helpers/server.js';
import { auditDataDir } from '../support/audit.js';
import type { ScenarioResult } from '../support/report.js';
import { KiB, makeSource, sha256Url } from '../support/source.js';
import { between, seededRandom, waitFor } from '../support/wait.js';

export interface ClientCrashOptions {
  size: number;
  chunkSize: number;
  seed: number;
  kills: number;
  concurrency: number;
}

export async function runClientCrashScenario(o: ClientCrashOptions): Promise<ScenarioResult> {
  const workDir = await tempDir('ferry-chaos-client-');
  const server = await startTestServer({ dataDir: join(workDir, 'data') });
  const random = seededRandom(o.seed);
  const source = await makeSource(workDir, o.size, o.seed);
  const env = { FERRY_STATE_DIR: join(workDir, 'state') };
  const args = ['upload', source.path, '--server', server.url, '--chunk-size', String(o.chunkSize), '--concurrency', String(o.concurrency), '--json'];
  const m = server.ctx.metrics;
  const kills: Record<string, number> = {};
  const notes: string[] = [];
  let run: CliRun | null = null;
  const started = Date.now();
  try {
    let finishedEarly = false;
    for (let k = 0; k < o.kills && !finishedEarly; k++) {
      run = startCli(args, env);
      let exited = false;
      void run.done.then(() => (exited = true));
      // The moment: the first kill lands right after the upload is created (before or after the CLI
      // saved it for resuming); later ones after a few more acknowledgements, or mid-chunk.
      const stored = m.get('ferry_chunks_stored_total');
      const received = m.get('ferry_chunk_bytes_received_total');
      let kind: string;
      let reached: () => boolean;
      if (k === 0) {
        kind = 'after create';
        reached = () => m.get('ferry_uploads_created_total') >= 1;
      } else if (random() < 0.5) {
        const more = between(random, 1, 2 * o.concurrency);
        kind = 'after acks';
        reached = () => m.get('ferry_chunks_stored_total') >= stored + more;
      } else {
        const more = between(random, o.chunkSize / 4, 2 * o.chunkSize);
        kind = 'mid-chunk';
        reached = () => m.get('ferry_chunk_bytes_received_total') >= received + more;
      }
      await waitFor(`kill moment ${k}`, () => reached() || exited, { timeoutMs: 60_000, intervalMs: 1 });
      if (exited) {
        finishedEarly = true;
        break;
      }
      run.child.kill('SIGKILL');
      await run.done;
      kills[kind] = (kills[kind] ?? 0) + 1;
    }
    const last = await runCli(args, env);
    const durationMs = Date.now() - started;
    const done = jsonEvents(last.stdout.split('\n'), 'done')[0];
    if (last.code !== 0) notes.push(`last run exited ${last.code}: ${last.stderr.trim().split('\n').pop()}`);
    const check = done ? await sha256Url(done.fileUrl) : null;
    const totalKills = Object.values(kills).reduce((a, b) => a + b, 0);
    const resent = m.get('ferry_chunk_bytes_received_total') - o.size;
    const created = m.get('ferry_uploads_created_total');
    if (created > 1) notes.push(`${created - 1} upload(s) created by a killed CLI before it saved them for resuming`);

    // Let every abandoned upload expire (move the server's clock past the TTL) and sweep.
    server.ctx.now = () => Date.now() + (server.ctx.config.uploadTtlSeconds + 1) * 1000;
    await server.sweep();
    const audit = await auditDataDir(server.dataDir);
    notes.push(...audit.problems.slice(0, 5));
    return {
      group: 'client crash',
      name: `SIGKILL of \`ferry upload\` ${totalKills} times during one upload, re-run each time`,
      seed: o.seed,
      size: o.size,
      faults: Object.fromEntries(Object.entries(kills).map(([k, n]) => [`kill ${k}`, n])),
      completed: last.code === 0 && done !== undefined,
      identical: check ? check.sha === source.sha : null,
      resentBytes: resent,
      durationMs,
      checks: {
        [`${totalKills} kills in one upload`]: totalKills >= Math.min(20, o.kills),
        'resumed every time (re-sent ≤ chunks in flight at each kill)': resent <= totalKills * o.concurrency * o.chunkSize,
        'no orphaned bytes or rows after expiry': audit.problems.length === 0 && audit.partFiles === 0,
      },
      notes: [`${o.chunkSize / KiB} KiB chunks, ${o.concurrency} in flight`, ...notes],
    };
  } finally {
    run?.child.kill('SIGKILL');
    await server.dispose();
    await rm(workDir, { recursive: true, force: true });
  }
}
