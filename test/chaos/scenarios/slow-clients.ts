// Slow clients: connections that send nothing, chunk bodies at 1 byte per second, headers at 1 byte
// per second, and one that sits on a chunk someone else needs. Bounded by the server's idle and
// request timeouts (short here); meanwhile a normal upload, a status poller and the contended upload
// must be served as usual.
import net from 'node:net';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { upload } from '../../../src/client/node/index.js';
import { sha256Field } from '../../helpers/digest.js';
import { call, chunkOf, create, putChunk } from '../../helpers/http.js';
import { startTestServer, tempDir } from '../../helpers/server.js';
import type { ScenarioResult } from '../support/report.js';
import { KiB, makeSource, seededBytes, sha256, sha256Url } from '../support/source.js';
import { waitFor } from '../support/wait.js';

export interface SlowClientOptions {
  seed: number;
  silent: number;
  slowBodies: number;
  slowHeaders: number;
  normalSize: number;
  requestTimeoutSeconds: number;
  idleTimeoutSeconds: number;
}

interface Slow {
  /** ms from connect to the server's answer (or close). */
  answeredAfter: Promise<{ ms: number; status: number | null; problem: boolean }>;
  stop(): void;
}

/** Opens a connection, writes `head` at once (if any), then `drip` one byte per second. */
function slowClient(port: number, head: string, drip: string | null): Slow {
  const t0 = Date.now();
  const sock = net.connect({ port, host: '127.0.0.1' });
  let text = '';
  let timer: NodeJS.Timeout | undefined;
  sock.on('error', () => {});
  sock.setEncoding('latin1').on('data', (d: string) => (text += d));
  sock.on('connect', () => {
    if (head) sock.write(head);
    let i = 0;
    if (drip) timer = setInterval(() => sock.write(drip[i++ % drip.length]!), 1000);
  });
  const answeredAfter = new Promise<{ ms: number; status: number | null; problem: boolean }>((resolve) =>
    sock.once('close', () => {
      clearInterval(timer);
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ ms: Date.now() - t0, status: m ? Number(m[1]) : null, problem: /content-type: application\/problem\+json/i.test(text) });
    }),
  );
  return { answeredAfter, stop: () => (clearInterval(timer), sock.destroy()) };
}

export async function runSlowClientScenario(o: SlowClientOptions): Promise<ScenarioResult> {
  const workDir = await tempDir('ferry-chaos-slow-');
  // Hundreds of clients from one loopback address: no per-address connection cap.
  const server = await startTestServer({ dataDir: join(workDir, 'data'), maxConnections: 8192, maxConnectionsPerAddress: 0, requestTimeoutSeconds: o.requestTimeoutSeconds, idleTimeoutSeconds: o.idleTimeoutSeconds });
  const source = await makeSource(workDir, o.normalSize, o.seed);
  const slow: Slow[] = [];
  const notes: string[] = [];
  const started = Date.now();
  try {
    // An upload whose chunks the slow bodies sit on: the contended one.
    const cs = 64 * KiB;
    const victim = seededBytes(o.slowBodies * cs, o.seed);
    const { uploadId } = (await create(server.url, { name: 'contended.bin', size: victim.length, chunkSize: cs })).body;
    const digest = (i: number) => sha256Field(chunkOf(victim, cs, i));

    // Opened in batches the server has accepted: past the listen backlog (511) the kernel would hold
    // connections the server never sees, which no server timeout can close.
    let accepted = 0;
    server.server.on('connection', () => accepted++);
    const silent: Slow[] = [];
    for (let opened = 0; opened < o.silent; ) {
      const batch = Math.min(250, o.silent - opened);
      for (let i = 0; i < batch; i++) silent.push(slowClient(server.port, '', null));
      opened += batch;
      await waitFor('the server to accept the silent connections', () => accepted >= opened, { timeoutMs: 10_000 });
    }
    const bodies = Array.from({ length: o.slowBodies }, (_, i) =>
      slowClient(server.port, `PUT /uploads/${uploadId}/chunks/${i} HTTP/1.1\r\nhost: slow\r\ncontent-digest: ${digest(i)}\r\ncontent-length: ${cs}\r\n\r\n`, 'x'),
    );
    const headers = Array.from({ length: o.slowHeaders }, () => slowClient(server.port, 'GET /capabilities HTTP/1.1\r\n', 'x-slow: yes\r\n'));
    slow.push(...silent, ...bodies, ...headers);
    await waitFor('slow bodies to hold their chunks', () => server.ctx.chunkWrites.size === o.slowBodies, { timeoutMs: 10_000 });

    // Alongside: a normal upload, a status poller, and the contended upload retrying its busy chunks.
    const latencies: number[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const t = Date.now();
        await call(server.url, 'GET', '/healthz');
        latencies.push(Date.now() - t);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const normal = upload(source.path, { server: server.url, chunkSize: 256 * KiB, resume: false }).result.then(
      async (r) => (await sha256Url(r.fileUrl)).sha === source.sha,
      (e: Error) => (notes.push(`normal upload failed: ${e.message}`), false),
    );
    const contended = (async () => {
      let busy = 0;
      let last = null;
      for (let i = 0; i < o.slowBodies; i++) {
        for (;;) {
          const r = await putChunk(server.url, uploadId, i, chunkOf(victim, cs, i));
          if (r.status !== 409 || r.body.type !== 'urn:ferry:problem:chunk-in-progress') {
            last = r;
            break;
          }
          busy++;
          // The protocol's own pacing: Retry-After.
          await new Promise((res) => setTimeout(res, Number(r.headers['retry-after']) * 1000));
        }
      }
      const ok = last?.body?.complete === true && (await sha256Url(last.body.fileUrl)).sha === sha256(victim);
      return { ok, busy };
    })();

    const normalOk = await normal;
    const answers = {
      silent: await Promise.all(silent.map((s) => s.answeredAfter)),
      bodies: await Promise.all(bodies.map((s) => s.answeredAfter)),
      headers: await Promise.all(headers.map((s) => s.answeredAfter)),
    };
    const cont = await contended;
    polling = false;
    await poller;
    const durationMs = Date.now() - started;
    const max = (xs: { ms: number }[]) => Math.max(0, ...xs.map((x) => x.ms));
    const slack = 1500;
    const idleMs = o.idleTimeoutSeconds * 1000;
    const requestMs = o.requestTimeoutSeconds * 1000;
    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.floor(latencies.length * 0.99)] ?? 0;
    notes.push(
      `timeouts: idle ${o.idleTimeoutSeconds} s, request ${o.requestTimeoutSeconds} s`,
      `slow clients answered: ${tally([...answers.silent, ...answers.bodies, ...answers.headers])}`,
      `silent closed after ≤ ${(max(answers.silent) / 1000).toFixed(1)} s, 1 B/s bodies answered after ≤ ${(max(answers.bodies) / 1000).toFixed(1)} s, 1 B/s headers after ≤ ${(max(answers.headers) / 1000).toFixed(1)} s`,
      `healthz during the attack: ${latencies.length} polls, p99 ${p99} ms`,
      `contended upload: ${cont.busy} × 409 chunk-in-progress, then stored`,
    );
    return {
      group: 'slow clients',
      name: `${o.silent} silent connections, ${o.slowBodies} chunk bodies and ${o.slowHeaders} headers at 1 byte/s, beside a normal upload`,
      seed: o.seed,
      size: o.normalSize,
      faults: { 'silent connections': o.silent, 'slow bodies': o.slowBodies, 'slow headers': o.slowHeaders },
      completed: normalOk && cont.ok,
      identical: normalOk && cont.ok,
      resentBytes: null,
      durationMs,
      checks: {
        // A connection that never sends a byte meets the header timeout (= request timeout) or the idle timeout.
        'silent connections closed by the header or idle timeout': max(answers.silent) <= Math.min(idleMs, requestMs) + slack,
        'slow bodies get 408 problem+json within the request timeout': answers.bodies.every((a) => a.status === 408 && a.problem) && max(answers.bodies) <= requestMs + slack,
        'slow headers get 408 problem+json within the request timeout': answers.headers.every((a) => a.status === 408 && a.problem) && max(answers.headers) <= requestMs + slack,
        'no chunk lock left behind': server.ctx.chunkWrites.size === 0,
        'others served meanwhile (healthz p99 < 1 s)': p99 < 1000,
      },
      notes,
    };
  } finally {
    for (const s of slow) s.stop();
    await server.dispose();
    await rm(workDir, { recursive: true, force: true });
  }
}

function tally(answers: Array<{ status: number | null; problem: boolean }>): string {
  const counts: Record<string, number> = {};
  for (const a of answers) {
    const key = a.status === null ? 'closed without an answer' : `${a.status}${a.problem ? ' problem+json' : ''}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return Object.entries(counts).map(([k, n]) => `${n}× ${k}`).join(', ');
}

