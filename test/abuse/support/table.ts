// The markdown table `npm run abuse` prints and writes into docs/reliability.md: per probe, requests
// made, 5xx seen, the server's RSS (idle → peak → after), /healthz during the attack, bound and verdict.
import { formatBytes } from '../../chaos/support/report.js';
import { passed, type ProbeResult } from './harness.js';

export const abuseMarkers = { start: '<!-- abuse-results:start -->', end: '<!-- abuse-results:end -->' };

function rssText(r: ProbeResult): string {
  if (!r.rss) return '–';
  return `${formatBytes(r.rss.before)} → **${formatBytes(r.rss.peak)}** → ${formatBytes(r.rss.after)}`;
}

function healthzText(r: ProbeResult): string {
  const h = r.healthz;
  if (!h || h.p99 === null) return h ? `${h.polls} polls, none answered` : '–';
  return `${h.p50!.toFixed(0)} / **${h.p99.toFixed(0)}** ms (max ${h.max!.toFixed(0)}, ${h.polls} polls${h.failed ? `, **${h.failed} unanswered**` : ''})`;
}

function verdictText(r: ProbeResult): string {
  if (r.error) return `**ERROR**: ${r.error.split('\n')[0]}`;
  const failed = Object.entries(r.checks).filter(([, ok]) => !ok).map(([k]) => k);
  if (r.fiveXX > 0) failed.unshift('0 5xx');
  return failed.length ? `**FAIL**: ${failed.join('; ')}` : 'pass';
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function abuseTable(results: ProbeResult[]): string {
  const head = '| # | probe | requests | 5xx | server RSS (idle → peak → after) | /healthz p50 / p99 | bound | result | verdict |\n|---|---|---|---|---|---|---|---|---|';
  const rows = results.map(
    (r, i) =>
      `| ${i + 1} | **${r.id}**: ${cell(r.title)} | ${r.requests} | ${r.fiveXX ? `**${r.fiveXX}**` : 0} | ${rssText(r)} | ${healthzText(r)} | ${cell(r.bound)} | ${cell(r.result)}${r.notes?.length ? `; ${cell(r.notes.join('; '))}` : ''} | ${cell(verdictText(r))} |`,
  );
  return [head, ...rows].join('\n');
}

/** One line per probe for the console, as results come. */
export function summaryLine(r: ProbeResult): string {
  return `${passed(r) ? 'ok  ' : 'FAIL'} ${r.id} (${(r.durationMs / 1000).toFixed(1)} s): ${r.result || r.error?.split('\n')[0]} — ${verdictText(r)}`;
}
