// One file's progress as a single terminal line of at most `width` columns:
//   big.bin ██████████░░░░░░░░░░  42%  126 MiB/300 MiB  85.3 MiB/s ETA 00:02
// Names are cut in the middle to 32 columns. When the terminal is narrow the line loses, in this
// order: length of the bar (down to 10), of the name (down to 12), the ETA, the rate, then the bar. It never wraps (see
// output-live-line.ts): the line above it could not be redrawn in place.
import type { Progress } from '../client/index.js';
import { formatBytes, formatDuration, formatRate } from './format.js';
import { displayWidth, fitEnd, fitMiddle, printable } from './output-width.js';

const minBar = 10;
const maxBar = 40;
const maxLabel = 32;
const minLabel = 12;

export function progressLine(label: string, p: Progress, width: number): string {
  const fraction = p.totalBytes === 0 ? (p.phase === 'done' ? 1 : 0) : Math.min(1, p.bytesAcked / p.totalBytes);
  const pct = `${String(Math.floor(fraction * 100)).padStart(3)}%`;
  // Padded to their widest, so the bar does not change length as the numbers do.
  const amounts = `${formatBytes(p.bytesAcked).padStart(8)}/${formatBytes(p.totalBytes)}`;
  const state = stateWord(p);
  const optional = state ? [state] : [formatRate(p.rate).padStart(11), `ETA ${formatDuration(p.etaSeconds)}`];
  const name = printable(label);
  for (let keep = optional.length; keep >= 0; keep--) {
    const tail = [pct, amounts, ...optional.slice(0, keep)].join(' ');
    // The name gets what the shortest bar leaves, up to maxLabel; the bar gets the rest.
    const labelRoom = Math.min(maxLabel, width - displayWidth(tail) - minBar - 2);
    if (labelRoom < Math.min(minLabel, displayWidth(name))) continue;
    const shown = fitMiddle(name, labelRoom);
    const room = width - displayWidth(shown) - displayWidth(tail) - 2;
    return `${shown} ${bar(fraction, Math.min(maxBar, room))} ${tail}`;
  }
  // Very narrow: no bar; the name takes what is left, if anything is.
  const tail = `${pct.trim()} ${amounts.trim()}`;
  const room = width - displayWidth(tail) - 1;
  return room >= 4 ? `${fitMiddle(name, room)} ${tail}` : fitEnd(tail, width);
}

function stateWord(p: Progress): string | null {
  if (p.phase === 'paused') return 'paused';
  if (p.phase === 'completing') return 'completing…';
  if (p.phase === 'starting') return 'starting…';
  return null;
}

function bar(fraction: number, width: number): string {
  const full = Math.round(fraction * width);
  return '█'.repeat(full) + '░'.repeat(width - full);
}
