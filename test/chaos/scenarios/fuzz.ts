// Bad input: a property-based fuzzer (fast-check) throwing malformed, oversized, truncated, duplicated
// and out-of-order requests at every endpoint over raw sockets, while valid uploads run alongside.
// Every answer must be < 500 and, for errors, problem+json; the server must answer (or close) every
// connection, keep no connections, locks, file descriptors or heap after a long run, and the valid
// uploads must complete byte-identical.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { upload } from '../../../src/client/node/index.js';
import { call, chunkOf, create, putChunk } from '../../helpers/http.js';
import { startTestServer, tempDir, type TestServer } from '../../helpers/server.js';
import { processFootprint } from '../support/child-server.js';
import { sendRaw, type RawExchange } from '../support/raw-http.js';
import type { ScenarioResult } from '../support/report.js';
import { KiB, MiB, makeSource, seededBytes, sha256Url } from '../support/source.js';
import { waitFor } from '../support/wait.js';
import { build, describe, requestArb, type Built, type Target, type World } from './fuzz-requests.js';

export interface FuzzOptions {
  seed: number;
  /** Requests the fuzzer sends. */
  runs: number;
  /** Valid uploads that run alongside, one after another. */
  validUploads: number;
  validSize: number;
}

// ---- what every answer must satisfy ---------------------------------------------------------------

function violations(x: RawExchange, b: Built): string[] {
  const found: string[] = [];
  if (x.timedOut) found.push('no answer and no close within the timeout');
  if (b.mustAnswer && x.responses.length === 0) found.push('a complete request got no answer');
  for (const res of x.responses) {
    if (res.status >= 500) found.push(`status ${res.status}: ${res.body.toString('utf8').slice(0, 200)}`);
    if (res.status >= 400) {
      if (!(res.headers['content-type'] ?? '').startsWith('application/problem+json')) {
        found.push(`status ${res.status} with content-type ${res.headers['content-type'] ?? 'none'}`);
      } else if (res.body.length) {
        try {
          const p = JSON.parse(res.body.toString('utf8'));
          if (typeof p.type !== 'string' || !p.type.startsWith('urn:ferry:problem:') || p.status !== res.status) found.push(`bad problem document ${res.body.toString('utf8').slice(0, 200)}`);
        } catch {
          found.push(`problem body is not JSON: ${res.body.toString('utf8').slice(0, 100)}`);
        }
      }
    }
  }
  return found;
}

// ---- the run ----------------------------------------------------------------------------------------

function collectGarbage(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

interface Sample {
  at: number;
  fds: number;
  heapMiB: number;
}

export async function runFuzzScenario(o: FuzzOptions): Promise<ScenarioResult> {
  const workDir = await tempDir('ferry-chaos-fuzz-');
  const server = await startTestServer({ dataDir: join(workDir, 'data'), requestTimeoutSeconds: 3, idleTimeoutSeconds: 2, maxFileSize: 64 * MiB });
  const gc = collectGarbage();
  // What the server logs as an error (a 500's cause) is a finding even when the client saw no 500.
  const serverErrors: string[] = [];
  const logError = server.ctx.log.error.bind(server.ctx.log);
  server.ctx.log.error = ((obj: unknown, ...rest: unknown[]) => {
    const err = (obj as { err?: Error })?.err;
    serverErrors.push(`${String(rest[0] ?? '')}: ${err?.stack?.split('\n').slice(0, 3).join(' ') ?? JSON.stringify(obj).slice(0, 300)}`);
    return (logError as (...a: unknown[]) => void)(obj, ...rest);
  }) as typeof server.ctx.log.error;
  const world: World = { targets: [], fileIds: [] };
  const notes: string[] = [];
  const statuses: Record<string, number> = {};
  const failures: string[] = [];
  const started = Date.now();
  try {
    await seedWorld(server, world, o.seed);
    // Valid uploads alongside: each registers as a protected target the fuzzer aims at while it runs.
    let fuzzing = true;
    const valid = (async () => {
      const results: boolean[] = [];
      for (let i = 0; i < o.validUploads || (fuzzing && i < 10 * o.validUploads); i++) {
        const source = await makeSource(workDir, o.validSize + i * 4099, o.seed + 100 + i, `valid-${i}.bin`);
        const data = await import('node:fs/promises').then((fs) => fs.readFile(source.path));
        const handle = upload(source.path, { server: server.url, chunkSize: 16 * KiB, resume: false, concurrency: 2, retry: { baseDelayMs: 20, maxDelayMs: 200 } });
        let target: Target | null = null;
        handle.on('started', (s) => world.targets.push((target = { uploadId: s.uploadId, data, chunkSize: s.chunkSize, protectedTarget: true })));
        try {
          const r = await handle.result;
          // The fuzzer may have the server refusing for a moment (429/503 under its limits): that is the
          // server protecting itself, not the file; ask again, and say what answered if the bytes differ.
          let check = await sha256Url(r.fileUrl);
          for (let tries = 0; (check.status === 429 || check.status === 503) && tries < 20; tries++) {
            await new Promise((resolve) => setTimeout(resolve, 100));
            check = await sha256Url(r.fileUrl);
          }
          if (check.sha !== source.sha) notes.push(`valid upload ${i}: GET ${r.fileUrl} answered ${check.status} with ${check.size} bytes, not its ${source.size}`);
          results.push(check.sha === source.sha);
          world.fileIds.push(r.fileId);
        } catch (e) {
          notes.push(`valid upload ${i} failed: ${(e as Error).message}`);
          results.push(false);
        }
        if (target) world.targets.splice(world.targets.indexOf(target), 1);
      }
      return results;
    })();

    const samples: Sample[] = [];
    const sample = (at: number) => {
      gc();
      samples.push({ at, fds: processFootprint('self').fds, heapMiB: process.memoryUsage().heapUsed / MiB });
    };
    let n = 0;
    const warmup = Math.max(1, Math.floor(o.runs / 10));
    let thrown: unknown = null;
    try {
      await fc.assert(
        fc.asyncProperty(requestArb, async (r) => {
          const b = build(r, world);
          const x = await sendRaw(server.port, { pieces: b.pieces, methods: b.methods, end: b.end, timeoutMs: 15_000 });
          for (const res of x.responses) {
            const key = res.status < 400 ? String(res.status) : problemCode(res);
            statuses[key] = (statuses[key] ?? 0) + 1;
          }
          learn(world, x);
          const found = violations(x, b);
          if (++n === warmup) sample(n);
          if (found.length) {
            failures.push(`${found.join('; ')} ← ${describe(r, b)}`);
            throw new Error(found.join('; '));
          }
        }),
        { seed: o.seed, numRuns: o.runs, endOnFailure: true },
      );
    } catch (e) {
      thrown = e;
    }
    fuzzing = false;
    const validResults = await valid;
    const durationMs = Date.now() - started;
    // Idle now. Keep-alive connections of the valid uploads' client may rest open; any other
    // connection (one stuck in a request) must be gone, with its lock and memory.
    const connections = () => new Promise<number>((res) => server.server.getConnections((_e, c) => res(c)));
    server.server.closeIdleConnections();
    const stuck = await waitFor('connections to close', async () => (await connections()) === 0, { timeoutMs: 10_000, intervalMs: 20 }).then(
      () => 0,
      () => connections(),
    );
    sample(n);
    const alive = await call(server.url, 'GET', '/healthz').then(
      (r) => r.status === 200,
      (e: Error) => (notes.push(`healthz: ${e.message}`), false),
    );
    const [first, last] = [samples[0]!, samples[samples.length - 1]!];
    if (thrown && !failures.length) failures.push(String((thrown as Error).message).split('\n').slice(0, 3).join(' '));
    notes.push(
      `${n} requests; answers: ${Object.entries(statuses).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${v}× ${k}`).join(', ')}`,
      `fds ${first.fds} → ${last.fds}, heap ${first.heapMiB.toFixed(1)} → ${last.heapMiB.toFixed(1)} MiB (after warm-up → end)`,
      `${validResults.length} valid uploads alongside`,
      ...(stuck || server.ctx.chunkWrites.size || server.ctx.completions.size
        ? [`left: ${stuck} connections, ${server.ctx.chunkWrites.size} chunk locks, ${server.ctx.completions.size} completions`]
        : []),
      ...failures.slice(0, 3).map((f) => `violation: ${f}`),
      ...serverErrors.slice(0, 3).map((e) => `server error: ${e}`),
    );
    return {
      group: 'bad input',
      name: 'fast-check fuzzer: malformed, oversized, truncated, pipelined and out-of-order requests at every endpoint',
      seed: o.seed,
      size: null,
      faults: { 'bad requests': n },
      completed: validResults.length >= o.validUploads && validResults.every(Boolean),
      identical: validResults.length ? validResults.every(Boolean) : null,
      resentBytes: null,
      durationMs,
      checks: {
        'every answer < 500, errors as problem+json': failures.length === 0,
        'server alive': alive,
        'no server errors logged': serverErrors.length === 0,
        'no leaked file descriptors': last.fds <= first.fds + 2,
        'no heap growth': last.heapMiB <= first.heapMiB + 16,
        'no connections, locks or completions left': stuck === 0 && server.ctx.chunkWrites.size === 0 && server.ctx.completions.size === 0,
      },
      notes,
    };
  } finally {
    await server.dispose();
    await rm(workDir, { recursive: true, force: true });
  }
}

/** Uploads the fuzzer created and files it completed become targets too (weird names included). */
function learn(world: World, x: RawExchange): void {
  for (const res of x.responses) {
    if (res.status !== 200 && res.status !== 201) continue;
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(res.body.toString('utf8'));
    } catch {
      continue;
    }
    if (typeof body.fileId === 'string' && !world.fileIds.includes(body.fileId)) world.fileIds.push(body.fileId);
    const { uploadId, size, chunkSize, state } = body;
    if (state === 'uploading' && typeof uploadId === 'string' && typeof size === 'number' && typeof chunkSize === 'number' && size <= 1 * MiB) {
      if (world.targets.some((t) => t.uploadId === uploadId)) continue;
      world.targets.push({ uploadId, data: seededBytes(size, size), chunkSize, protectedTarget: false });
      const learned = world.targets.filter((t) => !t.protectedTarget);
      if (learned.length > 40) world.targets.splice(world.targets.indexOf(learned[4]!), 1);
    }
  }
}

function problemCode(res: { status: number; body: Buffer }): string {
  try {
    return `${res.status} ${String(JSON.parse(res.body.toString('utf8')).type).replace('urn:ferry:problem:', '')}`;
  } catch {
    return String(res.status);
  }
}


/** Uploads in every state for the fuzzer to aim at, and a file. */
async function seedWorld(server: TestServer, world: World, seed: number): Promise<void> {
  const cs = 4 * KiB;
  for (const [i, state] of ['uploading', 'uploading', 'complete', 'aborted'].entries()) {
    const data = seededBytes(5 * cs + 100, seed + i);
    const r = await create(server.url, { name: `pool-${i}.bin`, size: data.length, chunkSize: cs });
    const uploadId = r.body.uploadId as string;
    world.targets.push({ uploadId, data, chunkSize: cs, protectedTarget: false });
    if (state === 'complete') {
      let last;
      for (let c = 0; c < 6; c++) last = await putChunk(server.url, uploadId, c, chunkOf(data, cs, c));
      world.fileIds.push(last!.body.fileId);
    } else if (state === 'aborted') {
      await fetch(`${server.url}/uploads/${uploadId}`, { method: 'DELETE' });
    } else {
      await putChunk(server.url, uploadId, 1, chunkOf(data, cs, 1));
    }
  }
}
