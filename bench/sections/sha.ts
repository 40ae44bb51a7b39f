// SHA-256 speed on one core, the figure docs/protocol.md quotes: whole 8 MiB chunks (what the client
// hashes) and 64 KiB pieces (what the server hashes as the socket delivers them).
import { createHash, randomBytes } from 'node:crypto';
import type { BenchContext } from '../lib/context.js';
import type { SectionReport } from '../lib/report.js';
import { formatBytes, KiB, MiB, summarize } from '../lib/stats.js';

function rate(piece: number, total: number): number {
  const buf = randomBytes(Math.max(piece, 8 * MiB));
  const started = performance.now();
  let done = 0;
  while (done < total) {
    const hash = createHash('sha256');
    for (let at = 0; at < 8 * MiB && done < total; at += piece, done += piece) hash.update(buf.subarray(at % buf.length, (at % buf.length) + piece));
    hash.digest();
  }
  return total / ((performance.now() - started) / 1000);
}

export async function shaSection(ctx: BenchContext): Promise<SectionReport> {
  const total = ctx.options.smoke ? 64 * MiB : 1024 * MiB;
  const rows: string[][] = [];
  const facts: Record<string, number> = {};
  for (const piece of [8 * MiB, 64 * KiB]) {
    const runs = [0, 1, 2].map(() => rate(piece, total));
    const s = summarize(runs)!;
    facts[`sha.${piece}.bytesPerSecond`] = s.median;
    rows.push([`sha-256 of ${formatBytes(piece)} pieces, one core`, (s.median / 1e9).toFixed(2), `${(s.min / 1e9).toFixed(2)}–${(s.max / 1e9).toFixed(2)}`]);
    ctx.log(`  sha-256, ${formatBytes(piece)} pieces: ${(s.median / 1e9).toFixed(2)} GB/s`);
  }
  return {
    tables: [{ title: 'SHA-256 speed (node:crypto)', columns: ['what', 'GB/s median', 'min–max'], rows }],
    targets: [],
    facts,
  };
}
