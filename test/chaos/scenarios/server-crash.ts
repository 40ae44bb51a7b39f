// Server crashes: `ferry serve` SIGKILLed at chosen moments of its work (mid-chunk, between a chunk's
// flush and its record, between its record and its acknowledgement, during completion, during an
// expiry sweep) and restarted over the same data directory, again and again during one upload.
// Checked after every kill: each chunk the client saw acknowledged is still recorded with its digest.
// At the end: the upload completed, the file is byte-identical, and no orphaned bytes or rows remain.
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { upload } from '../../../src/client/node/index.js';
import { createNodeTransport } from '../../../src/client/node/http-transport.js';
import { chunkOf, create, putChunk } from '../../helpers/http.js';
import { tempDir } from '../../helpers/server.js';
import { recordAcks } from '../support/acks.js';
import { auditDataDir } from '../support/audit.js';
import { startChaosServer, type ChaosServer, type ChildExit } from '../support/child-server.js';
import type { ScenarioResult } from '../support/report.js';
import { KiB, makeSource, seededBytes, sha256Url } from '../support/source.js';
import { between, pick, seededRandom, waitFor } from '../support/wait.js';

export interface ServerCrashOptions {
  size: number;
  chunkSize: number;
  seed: number;
  /** Kills while chunks move (the first one while the upload is being created). */
  chunkKills: number;
  /** Kills during expiry sweeps, after the upload. */
  sweepKills: number;
  concurrency: number;
}

const chunkPoints = ['chunk-write', 'chunk-synced', 'chunk-recorded'] as const;
// One node: storage no row names is an orphan of a killed create at once (no other node may be creating it).
const baseArgs = ['--min-chunk-size', '16KiB', '--upload-ttl', '3600', '--sweep-interval', '3600', '--orphan-grace', '0'];

export async function runServerCrashScenario(o: ServerCrashOptions): Promise<ScenarioResult> {
  const workDir = await tempDir('ferry-chaos-kill-');
  const dataDir = join(workDir, 'data');
  const random = seededRandom(o.seed);
  const source = await makeSource(workDir, o.size, o.seed);
  const kills: Record<string, number> = {};
  const notes: string[] = [];
  const lost = new Set<string>();
  let server: ChaosServer | null = null;
  const started = Date.now();
  try {
    // The schedule: one kill while the upload is created, then chunk-time kills, then two during
    // completion (the second fires when the restarted server resumes the interrupted completion).
    const schedule = [
      'create-begun:1',
      ...Array.from({ length: o.chunkKills - 1 }, () => {
        const point = pick(random, chunkPoints);
        return `${point}:${point === 'chunk-write' ? between(random, 1, 12) : between(random, 1, 4)}`;
      }),
      'complete-synced:1',
      'complete-renamed:1',
    ];
    server = await startChaosServer({ dataDir, killAt: schedule[0], args: baseArgs });
    const port = server.port!;
    const log = recordAcks(createNodeTransport());
    const handle = upload(source.path, {
      server: server.url!,
      chunkSize: o.chunkSize,
      concurrency: o.concurrency,
      resume: false,
      fetch: log.transport,
      requestTimeoutMs: 15_000,
      retry: { baseDelayMs: 20, maxDelayMs: 250, outageMs: 120_000, maxAttempts: 30 },
    });
    let finished = false;
    const settled = handle.result.then(
      () => (finished = true),
      () => (finished = true),
    );

    for (let next = 1; ; next++) {
      const exit = await Promise.race([server.exited, settled.then(() => null)]);
      if (!exit) break; // the upload finished first: the rest of the schedule did not fire
      countKill(kills, exit, notes);
      for (const l of lostAcks(dataDir, log.acks)) lost.add(l);
      server = await startChaosServer({ dataDir, port, killAt: schedule[next], args: baseArgs });
      if (next >= schedule.length && finished) break;
    }
    const result = await handle.result.catch((e: Error) => {
      notes.push(`upload failed: ${e.message}`);
      return null;
    });
    const durationMs = Date.now() - started;
    if (!server.url) server = await restartUntilListening(dataDir, port, kills, notes);
    const check = result ? await sha256Url(result.fileUrl) : null;
    for (const l of lostAcks(dataDir, log.acks)) lost.add(l);

    // Expiry sweeps, killed mid-clean-up: abandoned uploads with chunks expire while the server dies.
    await server.kill();
    const sweepArgs = ['--min-chunk-size', '16KiB', '--upload-ttl', '0.3', '--sweep-interval', '0.1', '--orphan-grace', '0'];
    const decoys = o.sweepKills + 2;
    const sweepSchedule = Array.from({ length: o.sweepKills }, () => `${pick(random, ['close-unlink', 'close-unlinked'])}:${between(random, 1, 2)}`);
    server = await startChaosServer({ dataDir, port, killAt: sweepSchedule[0], args: sweepArgs });
    const decoyIds = await createDecoys(server.url!, decoys, o.seed);
    const allSwept = () => waitFor('every abandoned upload expired', () => stillUploading(dataDir, decoyIds) === 0, { timeoutMs: 30_000, intervalMs: 50 });
    for (let next = 1; next <= sweepSchedule.length; next++) {
      const exit = await Promise.race([server.exited, allSwept().then(() => null)]);
      if (!exit) break; // nothing left to sweep: the rest of the schedule cannot fire
      countKill(kills, exit, notes);
      server = await startChaosServer({ dataDir, port, killAt: sweepSchedule[next], args: sweepArgs });
    }
    // The last kill may have fired just as the last decoy expired (the loop then saw "all swept"
    // first), leaving its clean-up undone.
    // Whether it fired cannot be told for sure from here, so the clean-up ends on a fresh server.
    await server.kill();
    server = await startChaosServer({ dataDir, port, args: sweepArgs });
    // The last server is unharmed: wait until every decoy has expired and its bytes are freed (the
    // state changes before the part file is unlinked, so killing on the state alone races the unlink).
    await allSwept();
    await waitFor('every expired upload\'s bytes freed', () => decoyIds.every((id) => !existsSync(join(dataDir, 'uploads', `${id}.part`))), {
      timeoutMs: 30_000,
      intervalMs: 50,
    });
    await server.kill();
    const audit = await auditDataDir(dataDir);
    notes.push(...audit.problems.slice(0, 5));
    // Uploads whose creation succeeded but whose answer the kill swallowed: the client made another;
    // these expire after the TTL they were created with (an hour here), like any abandoned upload.
    if (audit.uploads.uploading) notes.push(`${audit.uploads.uploading} abandoned upload(s) left to expire with their 1 h TTL`);
    const chunkTimeKills = Object.entries(kills).filter(([k]) => !k.startsWith('close')).reduce((a, [, n]) => a + n, 0);

    return {
      group: 'server crash',
      name: `SIGKILL of \`ferry serve\` at ${Object.keys(kills).length} kinds of moment during one upload, restarted each time`,
      seed: o.seed,
      size: o.size,
      faults: Object.fromEntries(Object.entries(kills).map(([k, n]) => [`kill@${k}`, n])),
      completed: result !== null,
      identical: check ? check.sha === source.sha : null,
      resentBytes: handle.progress().bytesSent - o.size,
      durationMs,
      checks: {
        [`${chunkTimeKills} kills in one upload`]: chunkTimeKills >= Math.min(20, o.chunkKills),
        'every acknowledged chunk survived every kill': lost.size === 0,
        'no orphaned bytes or rows after expiry': audit.problems.length === 0,
      },
      notes: [`${o.chunkSize / KiB} KiB chunks, ${o.concurrency} in flight`, ...[...lost].slice(0, 3).map((l) => `lost: ${l}`), ...notes],
    };
  } finally {
    await server?.kill();
    await rm(workDir, { recursive: true, force: true });
  }
}

function countKill(kills: Record<string, number>, exit: ChildExit, notes: string[]): void {
  if (exit.killedAt) kills[exit.killedAt] = (kills[exit.killedAt] ?? 0) + 1;
  else notes.push(`server exited unexpectedly (code ${exit.code}, signal ${exit.signal})`);
}

/** A server killed during startup recovery has no URL: start unharmed ones until one listens. */
async function restartUntilListening(dataDir: string, port: number, kills: Record<string, number>, notes: string[]): Promise<ChaosServer> {
  for (;;) {
    const s = await startChaosServer({ dataDir, port, args: baseArgs });
    if (s.url) return s;
    countKill(kills, await s.exited, notes);
  }
}

/** Acknowledged chunks with no row (or another digest) in the metadata store; read while the server is down. */
function lostAcks(dataDir: string, acks: Map<string, Map<number, string>>): string[] {
  const db = new Database(join(dataDir, 'meta.sqlite'), { readonly: true, fileMustExist: true });
  try {
    const lost: string[] = [];
    const get = db.prepare<[string, number], { digest: string }>('SELECT digest FROM chunks WHERE upload_id = ? AND idx = ?');
    for (const [uploadId, chunks] of acks) {
      for (const [index, digest] of chunks) {
        const row = get.get(uploadId, index);
        if (!row || row.digest !== digest) lost.push(`${uploadId}#${index}`);
      }
    }
    return lost;
  } finally {
    db.close();
  }
}

/** How many of `ids` are still 'uploading'. */
function stillUploading(dataDir: string, ids: string[]): number {
  const db = new Database(join(dataDir, 'meta.sqlite'), { readonly: true, fileMustExist: true });
  try {
    const get = db.prepare<[string], { state: string }>('SELECT state FROM uploads WHERE id = ?');
    return ids.filter((id) => get.get(id)?.state === 'uploading').length;
  } finally {
    db.close();
  }
}

/** Abandoned uploads with a few chunks each, for the sweeper to expire (and be killed during). */
async function createDecoys(url: string, count: number, seed: number): Promise<string[]> {
  const cs = 16 * KiB;
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const data = seededBytes(3 * cs, seed + i);
    const r = await create(url, { name: `decoy-${i}`, size: data.length, chunkSize: cs }).catch(() => null);
    if (r?.status !== 201) continue; // the sweeper killed the server meanwhile: fewer decoys, same check
    ids.push(r.body.uploadId);
    await putChunk(url, r.body.uploadId, 0, chunkOf(data, cs, 0)).catch(() => null);
    await putChunk(url, r.body.uploadId, 2, chunkOf(data, cs, 2)).catch(() => null);
  }
  return ids;
}
