// Concurrency: many simultaneous uploads of small and large files, with duplicate PUTs of their
// chunks and races of conflicting PUTs on other uploads, while an operator's second SQLite connection
// (another process) backs up the database, checkpoints it and briefly holds its write lock.
// Checked: everything completes correctly, nothing deadlocks, no 5xx and no SQLITE_BUSY reach clients,
// and every contested chunk has exactly one winner whose bytes are what is stored.
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { bytesSource, upload } from '../../../src/client/node/index.js';
import { createNodeTransport } from '../../../src/client/node/http-transport.js';
import type { Transport } from '../../../src/client/engine/io.js';
import { chunkOf, create, download, putChunk, type Reply } from '../../helpers/http.js';
import { startTestServer, tempDir } from '../../helpers/server.js';
import { auditDataDir } from '../support/audit.js';
import type { ScenarioResult } from '../support/report.js';
import { KiB, seededBytes, sha256 } from '../support/source.js';
import { between, seededRandom, waitFor } from '../support/wait.js';

export interface ConcurrencyOptions {
  seed: number;
  small: number;
  large: number;
  largeSize: number;
  duplicates: number;
  /** Uploads whose chunks are raced by conflicting writers. */
  contested: number;
  racers: number;
}

const operatorScript = `
import Database from 'better-sqlite3';
const [path, backup] = process.argv.slice(-2);
const db = new Database(path, { timeout: 5000 });
let stop = false;
process.stdin.on('data', () => (stop = true));
process.stdin.on('end', () => (stop = true));
const pause = (ms) => new Promise((r) => setTimeout(r, ms));
let rounds = 0;
while (!stop) {
  db.prepare('SELECT COUNT(*) FROM chunks').get();
  await db.backup(backup);
  db.pragma('wal_checkpoint(TRUNCATE)');
  // Hold the write lock a little while, as an admin's sqlite3 session might.
  db.exec('BEGIN IMMEDIATE');
  await pause(30);
  db.exec('COMMIT');
  rounds++;
  await pause(20);
}
db.close();
process.stdout.write(String(rounds));
`;

export async function runConcurrencyScenario(o: ConcurrencyOptions): Promise<ScenarioResult> {
  const workDir = await tempDir('ferry-chaos-conc-');
  // Hundreds of clients from one loopback address: no per-address connection cap.
  const server = await startTestServer({ dataDir: join(workDir, 'data'), maxConnectionsPerAddress: 0, maxDownloadsPerIdentity: 1000 }) // 100 clients from one address;
  const random = seededRandom(o.seed);
  const statuses: Record<string, number> = {};
  const busyBodies: string[] = [];
  const count = (status: number, text: string) => {
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (/SQLITE_BUSY|database is locked/i.test(text)) busyBodies.push(text.slice(0, 200));
  };
  const base = createNodeTransport();
  const transport: Transport = async (url, init) => {
    const res = await base(url, init);
    count(res.status, res.ok ? '' : await res.clone().text());
    return res;
  };
  const operator = spawn(process.execPath, ['--input-type=module', '-e', operatorScript, join(server.dataDir, 'meta.sqlite'), join(workDir, 'backup.sqlite')], {
    cwd: resolve(import.meta.dirname, '../../..'),
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let operatorRounds = '';
  operator.stdout!.on('data', (d) => (operatorRounds += d));
  const operatorDone = new Promise<void>((r) => operator.once('exit', () => r()));
  const notes: string[] = [];
  const started = Date.now();
  try {
    // The uploads: small files (one chunk, often created with it) and large ones (many chunks).
    const files = [
      ...Array.from({ length: o.small }, (_, i) => seededBytes(i < 3 ? [0, 1, 64 * KiB][i]! : between(random, 0, 200 * KiB), o.seed + i)),
      ...Array.from({ length: o.large }, (_, i) => seededBytes(o.largeSize + between(random, 0, 64 * KiB), o.seed + 1000 + i)),
    ];
    const live: Array<{ uploadId: string; data: Buffer; chunkSize: number }> = [];
    const uploads = files.map((data, i) => {
      const handle = upload(bytesSource(data, { name: `file-${i}.bin` }), { server: server.url, chunkSize: 256 * KiB, resume: false, fetch: transport });
      handle.on('started', (s) => live.push({ uploadId: s.uploadId, data, chunkSize: s.chunkSize }));
      return handle.result.then(
        async (r) => {
          const got = await download(r.fileUrl);
          return got.status === 200 && sha256(got.bytes) === sha256(data);
        },
        (e: Error) => (notes.push(`upload ${i} failed: ${e.message}`), false),
      );
    });

    // Duplicates of the right bytes, at random chunks of uploads in progress.
    const dupStatuses: Record<number, number> = {};
    const duplicates = (async () => {
      await waitFor('an upload to start', () => live.length > 0);
      for (let sent = 0; sent < o.duplicates; ) {
        const batch = [];
        for (let k = 0; k < 10 && sent < o.duplicates; k++, sent++) {
          const t = live[Math.floor(random() * live.length)]!;
          const total = Math.max(1, Math.ceil(t.data.length / t.chunkSize));
          const index = Math.floor(random() * total);
          batch.push(putChunk(server.url, t.uploadId, index, chunkOf(t.data, t.chunkSize, index)).then((r) => r.status, () => 0));
        }
        for (const s of await Promise.all(batch)) dupStatuses[s] = (dupStatuses[s] ?? 0) + 1;
      }
    })();

    // Conflicting writers: each chunk of a contested upload raced by writers with different bytes.
    const contested = (async () => {
      let chunksOk = 0;
      let chunks = 0;
      let storedWinners = true;
      const raceStatuses: Record<number, number> = {};
      await Promise.all(
        Array.from({ length: o.contested }, async (_, u) => {
          const cs = 64 * KiB;
          const total = 4;
          const r = await create(server.url, { name: `contested-${u}`, size: total * cs, chunkSize: cs });
          const uploadId = r.body.uploadId as string;
          const winners: Buffer[] = [];
          for (let index = 0; index < total; index++) {
            const bodies = Array.from({ length: o.racers }, (_, k) => seededBytes(cs, o.seed * 7919 + u * 97 + index * 13 + k));
            const replies: Reply[] = await Promise.all(bodies.map((b) => putChunk(server.url, uploadId, index, b).catch(() => ({ status: 0 }) as Reply)));
            replies.forEach((rep) => (raceStatuses[rep.status] = (raceStatuses[rep.status] ?? 0) + 1));
            const won = replies.map((rep, k) => (rep.status === 201 ? k : -1)).filter((k) => k >= 0);
            chunks++;
            if (won.length === 1 && replies.every((rep) => rep.status === 201 || rep.status === 409)) chunksOk++;
            winners.push(bodies[won[0] ?? 0]!);
          }
          const st = await download(`${server.url}/uploads/${uploadId}`);
          const fileUrl = JSON.parse(st.bytes.toString()).fileUrl as string | null;
          const file = fileUrl ? await download(fileUrl) : null;
          if (!file || sha256(file.bytes) !== sha256(Buffer.concat(winners))) {
            storedWinners = false;
            notes.push(`contested upload ${u}: stored bytes are not the winners'`);
          }
        }),
      );
      return { chunksOk, chunks, storedWinners, raceStatuses };
    })();

    const results = await Promise.all(uploads);
    await duplicates;
    const race = await contested;
    const durationMs = Date.now() - started;
    operator.stdin!.end();
    await operatorDone;
    const audit = await auditDataDir(server.dataDir);
    const fiveHundreds = Object.entries(statuses).filter(([s]) => Number(s) >= 500).reduce((a, [, n]) => a + n, 0);
    const dupBad = Object.keys(dupStatuses).filter((s) => ![200, 201, 409].includes(Number(s)));
    notes.push(
      `client answers: ${Object.entries(statuses).map(([s, n]) => `${n}×${s}`).join(', ')}`,
      `duplicate PUTs: ${Object.entries(dupStatuses).map(([s, n]) => `${n}×${s}`).join(', ')}`,
      `conflicting PUTs: ${Object.entries(race.raceStatuses).map(([s, n]) => `${n}×${s}`).join(', ')}`,
      `operator connection: ${operatorRounds || 0} rounds of backup + checkpoint + 30 ms write lock`,
      ...audit.problems.slice(0, 3),
    );
    const completed = results.filter(Boolean).length;
    return {
      group: 'concurrency',
      name: `${files.length} simultaneous uploads (${o.small} small, ${o.large} large), ${o.duplicates} duplicate PUTs, ${o.contested * 4} chunks raced by ${o.racers} conflicting writers each`,
      seed: o.seed,
      size: files.reduce((a, f) => a + f.length, 0),
      faults: { 'duplicate PUTs': o.duplicates, 'conflicting PUTs': o.contested * 4 * o.racers },
      completed: completed === files.length,
      identical: completed === files.length,
      resentBytes: null,
      durationMs,
      checks: {
        [`${completed}/${files.length} uploads complete and byte-identical`]: completed === files.length,
        'no 5xx, no SQLITE_BUSY reached a client': fiveHundreds === 0 && busyBodies.length === 0 && server.ctx.metrics.get('ferry_chunks_failed_total', { code: 'internal-error' }) === 0,
        'duplicates answered 200/201/409 only': dupBad.length === 0,
        'one winner per contested chunk, its bytes stored': race.chunksOk === race.chunks && race.storedWinners,
        'no orphaned bytes or rows': audit.problems.length === 0,
      },
      notes,
    };
  } finally {
    operator.kill('SIGKILL');
    await server.dispose();
    await rm(workDir, { recursive: true, force: true });
  }
}
