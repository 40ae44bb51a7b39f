// Scaling: completion latency after the last chunk for three file sizes (must stay flat), status
// latency of an upload of 10,000 chunks, and the cost per chunk (1, 8, 32 MiB chunks; tiny chunks).
import { ferryCliUpload } from '../contenders/upload-ferry.js';
import { alternate } from '../lib/contender.js';
import type { BenchContext } from '../lib/context.js';
import { Driver } from '../lib/driver.js';
import type { SectionReport, Table, Target } from '../lib/report.js';
import { formatBytes, KiB, MiB, millis, mibPerSecond, seconds, summarize } from '../lib/stats.js';
import { settle } from '../lib/workdir.js';
import { emptyFerry } from '../contenders/common.js';
import { startFerry, type Server } from '../servers/spawn.js';

export async function scalingSection(ctx: BenchContext): Promise<SectionReport> {
  const completion = await completionLatency(ctx);
  const status = await statusLatency(ctx);
  const chunks = await chunkSizes(ctx);
  return { tables: [completion.table, status.table, chunks], targets: [completion.target] };
}

/** Upload all full chunks, then time the PUT of the final 1-byte chunk, which completes the upload. */
async function completionLatency(ctx: BenchContext): Promise<{ table: Table; target: Target }> {
  const { work, repo, options } = ctx;
  const sizes = [options.size / 16, options.size, 4 * options.size].map((s) => Math.max(MiB, Math.round(s / MiB) * MiB));
  const chunkSize = 8 * MiB;
  const server = await startFerry(repo, work.dir('scaling-completion'));
  const driver = new Driver(server.url);
  const client: Record<number, number[]> = {};
  const serverSide: Record<number, number[]> = {};
  try {
    // One small upload first, so the first figure does not include warming up the server's code.
    const warm = await driver.create(MiB + 1, MiB);
    await driver.putMany(warm.uploadId, [0, 1], (i) => (i === 0 ? MiB : 1), MiB, 1);
    for (let round = 0; round < options.scalingRounds; round++) {
      for (const size of sizes) {
        const { uploadId, totalChunks, chunkSize: used } = await driver.create(size + 1, Math.min(chunkSize, size));
        const full = Array.from({ length: totalChunks - 1 }, (_, i) => i);
        await driver.putMany(uploadId, full, () => used, used, 4);
        await settle();
        const last = await driver.put(uploadId, totalChunks - 1, new Uint8Array([7]));
        if (!last.ack.complete) throw new Error('the last chunk did not complete the upload');
        (client[size] ??= []).push(last.ms);
        const logged = await completionLog(server, uploadId);
        if (logged !== null) (serverSide[size] ??= []).push(logged);
        ctx.log(`  [completion ${round + 1}/${options.scalingRounds}] ${formatBytes(size).padEnd(8)} last chunk → complete in ${millis(last.ms)} ms (server: ${logged ?? '?'} ms)`);
        await emptyFerry(server);
      }
    }
  } finally {
    driver.close();
    await server.stop();
  }
  const rows = sizes.map((size) => {
    const c = summarize(client[size] ?? []);
    const s = summarize(serverSide[size] ?? []);
    return [formatBytes(size), c ? millis(c.median) : '—', c ? `${millis(c.min)}–${millis(c.max)}` : '—', s ? millis(s.median) : '—'];
  });
  const small = summarize(client[sizes[0]!] ?? [])?.median;
  const large = summarize(client[sizes[2]!] ?? [])?.median;
  return {
    table: {
      title: `Completion latency after the last chunk (${options.scalingRounds} rounds)`,
      intro:
        'Every chunk but the last (8 MiB each, 4 in flight), then the final 1-byte chunk alone: its PUT is acknowledged only after the ' +
        'upload is complete (flush, rename, metadata). "server" is the completion step alone, from the server\'s upload-complete log line.',
      columns: ['file size', 'last PUT → complete, ms', 'min–max ms', 'server completion ms'],
      rows,
    },
    target: {
      name: 'Scaling: completion latency flat',
      goal: `${formatBytes(sizes[2]!)} within 2× the ${formatBytes(sizes[0]!)} figure`,
      measured: small && large ? `${millis(large)} ms vs ${millis(small)} ms (${(large / small).toFixed(2)}×)` : 'not measured',
      met: small && large ? large <= 2 * small : null,
    },
  };
}

/** The completion's own duration from the server's log (the line may trail the response a little). */
async function completionLog(server: Server, uploadId: string): Promise<number | null> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const line = [...server.lines].reverse().find((l) => l.includes(uploadId) && l.includes('upload-complete'));
    if (line) return (JSON.parse(line) as { durationMs?: number }).durationMs ?? null;
    await new Promise((r) => setTimeout(r, 25));
  }
  return null;
}

/** An upload of 10,000 1 KiB chunks, every other one sent: tiny-chunk request rate, then status latency. */
async function statusLatency(ctx: BenchContext): Promise<{ table: Table }> {
  const total = ctx.options.smoke ? 200 : 10_000;
  const server = await startFerry(ctx.repo, ctx.work.dir('scaling-status'), ['--min-chunk-size', '1KiB']);
  const driver = new Driver(server.url);
  try {
    const { uploadId, totalChunks, chunkSize } = await driver.create(total * KiB, KiB);
    if (totalChunks !== total || chunkSize !== KiB) throw new Error(`server chose ${totalChunks} chunks of ${chunkSize} bytes`);
    const timeStatus = async (n: number) => {
      const runs: number[] = [];
      let bytes = 0;
      let headerBytes = 0;
      for (let i = 0; i < n; i++) {
        const r = await driver.status(uploadId);
        runs.push(r.ms);
        bytes = r.text.length;
        headerBytes = r.headerBytes;
      }
      return { s: summarize(runs)!, bytes, headerBytes };
    };
    const empty = await timeStatus(20);
    const odd = Array.from({ length: total / 2 }, (_, i) => 2 * i + 1);
    await settle();
    const started = performance.now();
    await driver.putMany(uploadId, odd, () => KiB, KiB, 8);
    const rate = odd.length / ((performance.now() - started) / 1000);
    ctx.log(`  ${odd.length} PUTs of 1 KiB chunks, 8 in flight: ${rate.toFixed(0)} requests/s`);
    const half = await timeStatus(20);
    ctx.log(`  GET status with ${total / 2} missing ranges: ${millis(half.s.median)} ms (${formatBytes(half.bytes)} body, ${formatBytes(half.headerBytes)} of headers)`);
    const row = (what: string, r: typeof empty) => [what, millis(r.s.median), `${millis(r.s.min)}–${millis(r.s.max)}`, formatBytes(r.bytes), formatBytes(r.headerBytes)];
    const headerLimit = 16 * KiB;
    const notes =
      half.headerBytes > headerLimit
        ? [
            `The response headers (the missing list is also sent as ferry-chunks-missing) are ${formatBytes(half.headerBytes)}: more than the ` +
              `${formatBytes(headerLimit)} that Node's HTTP clients (node:http, fetch) accept by default, so this benchmark reads them with ` +
              'maxHeaderSize raised; a client with the default limit fails with "Header overflow".',
          ]
        : [];
    return {
      table: {
        title: `Status of an upload of ${total.toLocaleString('en')} chunks`,
        intro:
          `1 KiB chunks (server started with --min-chunk-size 1KiB, fsync on). Every odd chunk was sent with 8 requests in flight: ` +
          `**${rate.toFixed(0)} chunk PUTs per second** (each one fdatasynced and committed before its answer). ` +
          'Then GET /uploads/{id} 20 times in a row.',
        columns: ['GET /uploads/{id}', 'median ms', 'min–max ms', 'body', 'headers'],
        rows: [row('no chunk received (missing: one range)', empty), row(`every other chunk received (${total / 2} missing ranges)`, half)],
        notes,
      },
    };
  } finally {
    driver.close();
    await server.stop();
  }
}

/** The same upload with 1, 8 and 32 MiB chunks (CLI, defaults otherwise), alternated. */
async function chunkSizes(ctx: BenchContext): Promise<Table> {
  const server = await startFerry(ctx.repo, ctx.work.dir('scaling-chunks'));
  try {
    const contenders = [1, 8, 32].map((n) =>
      ferryCliUpload(ctx.env, `chunk-${n}`, `Ferry CLI --chunk-size ${n}MiB`, ctx.file, server, ['--chunk-size', `${n}MiB`]),
    );
    const results = await alternate('chunk size', contenders, ctx.options.scalingRounds, ctx.log, { warmUp: !ctx.options.smoke, waitForQuiet: !ctx.options.smoke });
    return {
      title: `Per-chunk overhead: upload of ${formatBytes(ctx.options.size)} by chunk size (${ctx.options.scalingRounds} rounds)`,
      columns: ['chunk size', 'chunks', 'median s', 'min–max s', 'MiB/s', 'CPU s'],
      rows: results.map((r, i) => {
        const size = [1, 8, 32][i]! * MiB;
        const s = r.seconds;
        const chunks = String(Math.ceil(ctx.options.size / Math.min(size, ctx.options.size)));
        if (!s) return [formatBytes(size), chunks, '—', '—', '—', r.errors[0]?.slice(0, 80) ?? '—'];
        return [formatBytes(size), chunks, seconds(s.median), `${seconds(s.min)}–${seconds(s.max)}`, mibPerSecond(ctx.options.size, s.median), r.cpuSeconds ? seconds(r.cpuSeconds.median) : '—'];
      }),
    };
  } finally {
    await server.stop();
  }
}
