// How long the server's event loop stalls, and how fast /healthz answers, while many clients fetch the
// manifest of a 10,000-chunk file, or the status of a 10,000-chunk upload with every other chunk missing.
// The server runs in a child process that watches its own loop (perf_hooks.monitorEventLoopDelay); the
// load runs in a worker thread; this thread only polls /healthz, so neither skews the other.
// Run: npm run build && node bench/probes/manifest-status-load.mjs [concurrency] [seconds] [dist dir]
//      (defaults: 50 clients, 5 s per scenario, ./dist)
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const [mode] = process.argv.slice(2);
if (mode === '--server') await serve(process.argv[3]);
else if (!isMainThread) await load(workerData);
else await main(Number(process.argv[2] ?? 50), Number(process.argv[3] ?? 5), resolve(process.argv[4] ?? 'dist'));

/** The child: a Ferry server (1 KiB chunks allowed) that reports its event-loop delay on request. */
async function serve(dist) {
  const { startServer } = await import(pathToFileURL(join(dist, 'server/index.js')).href);
  const dataDir = await mkdtemp(join(tmpdir(), 'ferry-probe-'));
  const server = await startServer({ port: 0, host: '127.0.0.1', logLevel: 'silent', dataDir, fsync: false, minChunkSize: 1024, defaultChunkSize: 1024 });
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  process.stdout.write(JSON.stringify({ url: server.url }) + '\n');
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'reset') delay.reset();
    if (line === 'report') {
      const ms = (ns) => Math.round(ns / 1e4) / 100;
      process.stdout.write(JSON.stringify({ maxMs: ms(delay.max), p99Ms: ms(delay.percentile(99)), meanMs: ms(delay.mean) }) + '\n');
    }
  }
  await server.close();
  await rm(dataDir, { recursive: true, force: true });
}

/** The worker: `concurrency` clients GETting `path` back to back for `seconds`. */
async function load({ url, path, concurrency, seconds }) {
  const until = Date.now() + seconds * 1000;
  let requests = 0;
  let bytes = 0;
  const statuses = {};
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < until) {
        const res = await fetch(url + path);
        bytes += (await res.arrayBuffer()).byteLength;
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        requests++;
      }
    }),
  );
  parentPort.postMessage({ requests, bytes, statuses });
}

async function main(concurrency, seconds, dist) {
  // PROBE_NODE_ARGS: more Node flags for the server (e.g. "--cpu-prof") on top of those `npm start` uses.
  const nodeArgs = ['--single-threaded-gc', ...(process.env.PROBE_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  const child = spawn(process.execPath, [...nodeArgs, new URL(import.meta.url).pathname, '--server', dist], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => JSON.parse((await lines.next()).value);
  const { url } = await next();

  const total = 10_000;
  const fileId = await upload(url, total, (i) => true);
  const fragmented = await upload(url, total, (i) => i % 2 === 1);
  const manifestBytes = (await (await fetch(`${url}/files/${fileId}/manifest`)).arrayBuffer()).byteLength;
  console.log(`manifest: ${total} chunks, ${manifestBytes} bytes; status: ${total} chunks, ${total / 2} missing`);

  const rows = [];
  for (const [name, path] of [
    ['idle', null],
    ['manifest', `/files/${fileId}/manifest`],
    ['status', `/uploads/${fragmented}`],
  ]) {
    child.stdin.write('reset\n');
    const worker = path && new Worker(new URL(import.meta.url), { workerData: { url, path, concurrency, seconds } });
    const done = worker ? new Promise((res) => worker.once('message', res)) : new Promise((res) => setTimeout(() => res(null), seconds * 1000));
    const healthz = [];
    let finished = false;
    done.then(() => (finished = true));
    while (!finished) {
      const t0 = performance.now();
      await (await fetch(`${url}/healthz`)).arrayBuffer();
      healthz.push(performance.now() - t0);
      await new Promise((res) => setTimeout(res, 10));
    }
    const result = await done;
    child.stdin.write('report\n');
    const loop = await next();
    healthz.sort((a, b) => a - b);
    const pct = (p) => healthz[Math.min(healthz.length - 1, Math.floor((p / 100) * healthz.length))].toFixed(1);
    rows.push({
      scenario: name,
      clients: path ? concurrency : 0,
      requests: result?.requests ?? 0,
      'req/s': result ? Math.round(result.requests / seconds) : 0,
      statuses: result ? JSON.stringify(result.statuses) : '',
      'healthz p50 ms': pct(50),
      'healthz p99 ms': pct(99),
      'healthz max ms': healthz[healthz.length - 1].toFixed(1),
      'loop delay max ms': loop.maxMs,
      'loop delay p99 ms': loop.p99Ms,
    });
  }
  console.table(rows);
  child.stdin.end();
  await new Promise((res) => child.once('exit', res));
}

/** Creates an upload of `total` 1 KiB chunks and sends those `send` picks; the file id when it completes, else the upload id. */
async function upload(url, total, send) {
  const res = await fetch(`${url}/uploads`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'probe.bin', size: total * 1024, chunkSize: 1024 }),
  });
  if (res.status !== 201) throw new Error(`create: ${res.status} ${await res.text()}`);
  const { uploadId } = await res.json();
  const indexes = Array.from({ length: total }, (_, i) => i).filter(send);
  let at = 0;
  let fileId = null;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (at < indexes.length) {
        const i = indexes[at++];
        const body = Buffer.alloc(1024, i & 0xff);
        const digest = `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
        const put = await fetch(`${url}/uploads/${uploadId}/chunks/${i}`, { method: 'PUT', headers: { 'content-digest': digest }, body });
        const ack = await put.json();
        if (put.status !== 201) throw new Error(`chunk ${i}: ${put.status} ${JSON.stringify(ack)}`);
        if (ack.fileId) fileId = ack.fileId;
      }
    }),
  );
  return fileId ?? uploadId;
}
