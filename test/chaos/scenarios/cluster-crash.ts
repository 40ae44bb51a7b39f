// Server crashes in a cluster: three `ferry serve` nodes on one PostgreSQL and one S3 bucket behind a
// round-robin proxy, each SIGKILLed again and again at named moments of its work (mid-part, between a
// part reaching S3 and its record, between its record and its acknowledgement, during completion) and
// restarted, while one client uploads through the proxy. The surviving nodes carry the upload meanwhile.
// Checked after every kill: each chunk the client saw acknowledged is still recorded with its digest.
// At the end: completed once, byte-identical, every chunk digest matches its bytes, nothing orphaned in S3.
import { once } from 'node:events';
import { open, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { upload } from '../../../src/client/node/index.js';
import { createNodeTransport } from '../../../src/client/node/http-transport.js';
import { parseIndexRanges } from '../../../src/protocol/index.js';
import { openMultipartUploads, startCluster, type Cluster } from '../../helpers/cluster.js';
import { call } from '../../helpers/http.js';
import type { ChildServer } from '../../helpers/server.js';
import { tempDir } from '../../helpers/server.js';
import { lostAcks, recordAcks } from '../support/acks.js';
import type { ScenarioResult } from '../support/report.js';
import { makeSource, MiB, sha256Url, type SourceFile } from '../support/source.js';
import { between, pick, seededRandom } from '../support/wait.js';
import { resolve } from 'node:path';

export interface ClusterCrashOptions {
  size: number;
  /** At least S3's 5 MiB part minimum. */
  chunkSize: number;
  seed: number;
  /** Kills while chunks move; the next two (re)starts after these are armed to die during completion. */
  kills: number;
  concurrency: number;
}

const hookPath = resolve(import.meta.dirname, '../support/kill-hook.mjs');
const chunkPoints = ['s3-part-write', 's3-part-stored', 'chunk-recorded'] as const;

export async function runClusterCrashScenario(o: ClusterCrashOptions): Promise<ScenarioResult> {
  const workDir = await tempDir('ferry-chaos-cluster-');
  const random = seededRandom(o.seed);
  const kills: Record<string, number> = {};
  const notes: string[] = [];
  const lost = new Set<string>();
  let cluster: Cluster | null = null;
  try {
    const source = await makeSource(workDir, o.size, o.seed);
    // Each start of a node (the first three and every restart) takes the next moment of the schedule.
    const schedule = [
      ...Array.from({ length: o.kills }, () => {
        const point = pick(random, chunkPoints);
        // A part is sent in pieces of up to 64 KiB: 5 to 120 pieces lands inside the first or second part.
        return `${point}:${point === 's3-part-write' ? between(random, 5, 120) : between(random, 1, 3)}`;
      }),
      // The second fires on the node that resumes the completion the first interrupted.
      's3-completed:1',
      's3-completed:1',
    ];
    let next = 0;
    // Past the schedule, nodes start unharmed, so the upload can finish.
    const armed = () => ({ NODE_OPTIONS: `--import=${hookPath}`, FERRY_CHAOS_KILL: schedule[next++] ?? '' });
    // A dead node's chunk leases lapse after 1 s, so its chunks are taken over quickly.
    const c = (cluster = await startCluster({ env: armed, chunkTakeoverSeconds: 1 }));

    const started = Date.now();
    const log = recordAcks(createNodeTransport());
    const handle = upload(source.path, {
      server: c.url,
      chunkSize: o.chunkSize,
      concurrency: o.concurrency,
      resume: false,
      fetch: log.transport,
      requestTimeoutMs: 30_000,
      retry: { baseDelayMs: 20, maxDelayMs: 250, outageMs: 120_000, maxAttempts: 40 },
    });
    let uploadId: string | null = null;
    handle.on('started', (s) => (uploadId = s.uploadId));
    const settled = handle.result.then(
      () => null,
      () => null,
    );

    // Every node that dies is restarted (armed with the next moment) while the upload runs.
    for (;;) {
      // A node already down (it died while another was being restarted) counts at once.
      const died = await Promise.race([settled, ...c.nodes.map((n, i) => ended(n.runs.at(-1)!).then(() => i))]);
      if (died === null) break;
      countKill(kills, c.nodes[died]!.runs.at(-1)!, notes);
      // Only acknowledgements received before the status is asked for: the upload goes on meanwhile.
      if (uploadId) for (const i of await lostAcks(log, uploadId, () => missingNow(c.url, uploadId!))) lost.add(`${uploadId}#${i}`);
      await restartUntilListening(c, died, armed, kills, notes);
    }
    const result = await handle.result.catch((e: Error) => {
      notes.push(`upload failed: ${e.message}`);
      return null;
    });
    const durationMs = Date.now() - started;
    const check = result ? await sha256Url(result.fileUrl) : null;
    const digestsMatch = result ? await manifestMatches(c.url, result.fileId, source, log.acks.get(result.uploadId), notes) : false;
    const completions = result ? c.logs('upload-complete').filter((l) => l.uploadId === result.uploadId).length : 0;
    const orphans = await orphansInBucket(c);
    notes.push(...orphans.problems.slice(0, 5));
    if (orphans.abandoned) notes.push(`${orphans.abandoned} abandoned upload(s) (a create whose answer a kill swallowed) left to expire`);
    const total = Object.values(kills).reduce((a, n) => a + n, 0);
    const perNode = result ? c.chunksStored(result.uploadId) : [];

    return {
      group: 'server crash',
      name: `cluster of 3 on PostgreSQL + S3: nodes SIGKILLed at ${Object.keys(kills).length} kinds of moment during one upload, restarted each time`,
      seed: o.seed,
      size: o.size,
      faults: Object.fromEntries(Object.entries(kills).map(([k, n]) => [`kill@${k}`, n])),
      completed: result !== null,
      identical: check ? check.sha === source.sha && check.size === source.size : null,
      resentBytes: handle.progress().bytesSent - o.size,
      durationMs,
      checks: {
        [`${total} kills in one upload`]: total >= o.kills,
        'every acknowledged chunk survived every kill': lost.size === 0,
        'every chunk digest matches its bytes': digestsMatch,
        [`completed once (${completions} upload-complete)`]: completions === 1,
        'no orphaned multipart uploads or objects in S3': orphans.problems.length === 0,
      },
      notes: [
        `${o.chunkSize / MiB} MiB chunks, ${o.concurrency} in flight; chunks stored per node ${perNode.join('/')}`,
        ...[...lost].slice(0, 3).map((l) => `lost: ${l}`),
        ...notes,
      ],
    };
  } finally {
    await cluster?.dispose();
    await rm(workDir, { recursive: true, force: true });
  }
}

/** Resolves once `server` has exited and its last log line has been read. */
function ended(server: ChildServer): Promise<void> {
  const p = server.process;
  const exited = p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : once(p, 'exit').then(() => {});
  const closed = p.stdout!.closed ? Promise.resolve() : once(p.stdout!, 'close').then(() => {});
  return Promise.all([exited, closed]).then(() => {});
}

function countKill(kills: Record<string, number>, run: { logs: Array<Record<string, unknown>> }, notes: string[]): void {
  const hit = [...run.logs].reverse().find((l) => l.event === 'chaos-kill');
  if (hit) kills[String(hit.point)] = (kills[String(hit.point)] ?? 0) + 1;
  else notes.push('a node exited without a chaos kill');
}

/**
 * Starts node `i` again (armed). A node that dies before it listens was killed during its start-up
 * (recovery resuming a completion): counted under its armed moment, and started again.
 */
async function restartUntilListening(c: Cluster, i: number, armed: () => NodeJS.ProcessEnv, kills: Record<string, number>, notes: string[]): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const env = armed();
    try {
      await c.restart(i, env);
      return;
    } catch (error) {
      if (attempt >= 5) throw error;
      const point = `${String(env.FERRY_CHAOS_KILL).split(':')[0]} during start-up`;
      kills[point] = (kills[point] ?? 0) + 1;
      notes.push(`node ${i} died starting: ${(error as Error).message}`);
    }
  }
}

/** The chunks the cluster reports missing, asked through the proxy; null unless it answers for an upload taking chunks. */
async function missingNow(url: string, uploadId: string): Promise<Set<number> | null> {
  const status = await call(url, 'GET', `/uploads/${uploadId}`).catch(() => null);
  if (!status || status.status !== 200 || !['uploading', 'completing'].includes(status.body.state)) return null;
  return new Set(parseIndexRanges(String(status.body.missing)));
}

/** The file's manifest: every chunk's digest is that of the source's bytes there, and that of its acknowledgement. */
async function manifestMatches(url: string, fileId: string, source: SourceFile, acked: Map<number, string> | undefined, notes: string[]): Promise<boolean> {
  const manifest = await call(url, 'GET', `/files/${fileId}/manifest`);
  if (manifest.status !== 200) {
    notes.push(`manifest: ${manifest.status}`);
    return false;
  }
  const fh = await open(source.path, 'r');
  try {
    for (const chunk of manifest.body.chunks as Array<{ index: number; offset: number; size: number; digest: string }>) {
      const bytes = Buffer.alloc(chunk.size);
      await fh.read(bytes, 0, chunk.size, chunk.offset);
      const digest = `sha-256=:${createHash('sha256').update(bytes).digest('base64')}:`;
      if (digest !== chunk.digest || (acked?.has(chunk.index) && acked.get(chunk.index) !== chunk.digest)) {
        notes.push(`chunk ${chunk.index}: manifest ${chunk.digest}, bytes ${digest}, ack ${acked?.get(chunk.index) ?? '-'}`);
        return false;
      }
    }
    return true;
  } finally {
    await fh.close();
  }
}

/**
 * What S3 holds against what the cluster knows: every open multipart upload belongs to an upload still
 * in progress (one each), every object to a completed one.
 */
async function orphansInBucket(c: Cluster): Promise<{ problems: string[]; abandoned: number }> {
  const problems: string[] = [];
  const idOf = (key: string) => /(?:^|\/)uploads\/([^/]+)$/.exec(key)?.[1] ?? null;
  const seen = new Set<string>();
  let abandoned = 0;
  for (const m of await openMultipartUploads(c.s3Client, c.bucket)) {
    const id = idOf(m.key);
    if (!id) {
      problems.push(`multipart upload at ${m.key}: not a key Ferry makes`);
      continue;
    }
    if (seen.has(id)) problems.push(`upload ${id}: a second multipart upload at its key`);
    seen.add(id);
    const status = await call(c.url, 'GET', `/uploads/${id}`);
    if (status.status === 200 && status.body.state === 'uploading') abandoned++;
    else problems.push(`multipart upload of ${id}: orphaned (upload ${status.status === 200 ? status.body.state : status.status})`);
  }
  const objects = await c.s3Client.send(new ListObjectsV2Command({ Bucket: c.bucket }));
  for (const obj of objects.Contents ?? []) {
    const id = idOf(obj.Key!);
    const status = id ? await call(c.url, 'GET', `/uploads/${id}`) : null;
    if (!status || status.status !== 200 || status.body.state !== 'complete') problems.push(`object ${obj.Key}: orphaned (upload ${status?.body.state ?? 'unknown'})`);
  }
  return { problems, abandoned };
}
