// The throughput table and speed-ratio targets shared by the upload and download sections.
import type { ContenderResult } from '../lib/contender.js';
import type { Table, Target } from '../lib/report.js';
import { mibPerSecond, ratio, seconds, summarize } from '../lib/stats.js';

/** `refColumn` names the last column: the reference's time divided by the row's (default "vs reference"). */
export function throughputTable(title: string, bytes: number, results: ContenderResult[], reference: ContenderResult | undefined, refColumn = 'vs reference'): Table {
  const ref = reference?.seconds?.median;
  const rows = results.map((r) => {
    const s = r.seconds;
    if (!s) {
      const why = r.contender.skip ?? (r.errors.length ? `failed: ${r.errors[0]!.split('\n')[0]!.slice(0, 120)}` : 'no run');
      return [r.contender.label, '—', '—', '—', '—', '—', why];
    }
    return [
      r.contender.label,
      seconds(s.median),
      `${seconds(s.min)}–${seconds(s.max)}`,
      mibPerSecond(bytes, s.median),
      r.cpuSeconds ? seconds(r.cpuSeconds.median) : '—',
      r.otherCores === null ? '—' : r.otherCores.toFixed(2),
      ref ? ratio(ref / s.median) : '—',
    ];
  });
  return { title, columns: ['contender', 'median s', 'min–max s', 'MiB/s', 'CPU s', 'other load', refColumn], rows };
}

/** "a is at least `goal` times as fast as b" (b's time over a's). */
export function speedRatio(name: string, goal: string, a: ContenderResult | undefined, b: ContenderResult | undefined, min: number): Target {
  const ta = a?.seconds?.median;
  const tb = b?.seconds?.median;
  if (ta === undefined || tb === undefined) {
    const missing = [a, b].find((r) => !r?.seconds);
    return { name, goal, measured: `not measured (${missing?.contender.skip ?? missing?.errors[0]?.slice(0, 80) ?? 'skipped'})`, met: null };
  }
  const r = tb / ta;
  return { name, goal, measured: `${ratio(r)} (${seconds(ta)} s vs ${seconds(tb)} s)`, met: r >= min };
}

/** The medians of every contender that ran, as facts: "<section>.<id>.seconds" and ".cpu". */
export function factsOf(section: string, results: ContenderResult[]): Record<string, number> {
  const facts: Record<string, number> = {};
  for (const r of results) {
    if (r.seconds) facts[`${section}.${r.contender.id}.seconds`] = r.seconds.median;
    if (r.cpuSeconds) facts[`${section}.${r.contender.id}.cpu`] = r.cpuSeconds.median;
    if (r.otherCores !== null) facts[`${section}.${r.contender.id}.other`] = r.otherCores;
    const engine = summarize(r.runs.flatMap((m) => (m.extra?.engineSeconds === undefined ? [] : [m.extra.engineSeconds])));
    if (engine) facts[`${section}.${r.contender.id}.engine`] = engine.median;
  }
  return facts;
}
