// The last line of a run of several files: "12 files, 1.2 GiB uploaded in 14 s".
import { formatBytes, formatElapsed } from './format.js';

export interface RunTally {
  /** Files the run set out to upload. */
  total: number;
  uploaded: number;
  failed: number;
  bytes: number;
  durationMs: number;
}

export function summaryLine(t: RunTally): string {
  const files = (n: number) => `${n} file${n === 1 ? '' : 's'}`;
  const count = t.uploaded === t.total ? files(t.total) : `${t.uploaded} of ${files(t.total)}`;
  const notTried = t.total - t.uploaded - t.failed;
  const trouble = [t.failed > 0 ? `${t.failed} failed` : '', notTried > 0 ? `${notTried} not tried` : ''].filter(Boolean).join(', ');
  return `${count}, ${formatBytes(t.bytes)} uploaded in ${formatElapsed(t.durationMs / 1000)}${trouble ? `; ${trouble}` : ''}`;
}
