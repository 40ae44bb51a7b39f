// One scenario's figures, and the markdown table `npm run chaos` writes into docs/reliability.md.
import { readFile, writeFile } from 'node:fs/promises';

export interface ScenarioResult {
  group: string;
  name: string;
  seed: number;
  /** Bytes of the transferred file(s); null when the scenario moves no single file. */
  size: number | null;
  /** Faults injected, by kind (cut, stall, flip, kill, 507, malformed request, ...). */
  faults: Record<string, number>;
  completed: boolean | null;
  identical: boolean | null;
  /** Bytes sent (or fetched) again beyond the file's size; null when not measured. */
  resentBytes: number | null;
  durationMs: number;
  /** Named guarantees checked in this run and whether each held. */
  checks: Record<string, boolean>;
  notes: string[];
}

export function passed(r: ScenarioResult): boolean {
  return r.completed !== false && r.identical !== false && Object.values(r.checks).every(Boolean);
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) (v /= 1024), u++;
  return `${u === 0 ? v : v.toFixed(v >= 100 ? 0 : 1)} ${units[u]}`;
}

const yesNo = (v: boolean | null) => (v === null ? '–' : v ? 'yes' : '**NO**');

function faultText(f: Record<string, number>): string {
  const parts = Object.entries(f).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`);
  return parts.length ? parts.join(', ') : 'none';
}

function resentText(r: ScenarioResult): string {
  if (r.resentBytes === null) return '–';
  if (!r.size) return formatBytes(r.resentBytes);
  return `${formatBytes(r.resentBytes)} (${((100 * r.resentBytes) / r.size).toFixed(1)} %)`;
}

function checksText(r: ScenarioResult): string {
  const entries = Object.entries(r.checks);
  const failed = entries.filter(([, ok]) => !ok).map(([k]) => `**FAILED: ${k}**`);
  const ok = entries.filter(([, ok]) => ok).map(([k]) => k);
  return [...failed, ...ok, ...r.notes].join('; ');
}

export function resultsTable(results: ScenarioResult[]): string {
  const head = '| # | scenario | seed | size | faults injected | completed | byte-identical | re-sent / re-fetched | time | checked |\n|---|---|---|---|---|---|---|---|---|---|';
  const rows = results.map(
    (r, i) =>
      `| ${i + 1} | **${r.group}**: ${r.name} | ${r.seed} | ${r.size === null ? '–' : formatBytes(r.size)} | ${faultText(r.faults)} | ${yesNo(r.completed)} | ${yesNo(r.identical)} | ${resentText(r)} | ${(r.durationMs / 1000).toFixed(1)} s | ${checksText(r)} |`,
  );
  return [head, ...rows].join('\n');
}

export const startMarker = '<!-- chaos-results:start -->';
export const endMarker = '<!-- chaos-results:end -->';

/** Replaces the block between the markers in `path` with `block` (the markers stay); other runs pass their own markers. */
export async function writeResultsBlock(path: string, block: string, markers = { start: startMarker, end: endMarker }): Promise<void> {
  const text = await readFile(path, 'utf8');
  const start = text.indexOf(markers.start);
  const end = text.indexOf(markers.end);
  if (start < 0 || end < start) throw new Error(`${path} has no ${markers.start} ... ${markers.end} block`);
  await writeFile(path, text.slice(0, start + markers.start.length) + '\n' + block + '\n' + text.slice(end));
}

/** The names of the checks that failed, plus completion and identity: [] when the scenario held. */
export function failures(r: ScenarioResult): string[] {
  const failed = Object.entries(r.checks).filter(([, ok]) => !ok).map(([k]) => k);
  if (r.completed === false) failed.push('completed');
  if (r.identical === false) failed.push('byte-identical');
  return failed;
}
