// Shows transfer progress on stderr: a live bar on a terminal, periodic plain lines otherwise, JSON
// lines (on stdout) with --json. Files go one after another, so one live line is all a terminal needs.
// Results (URLs, paths) are not shown here: they go to stdout through output-results.ts.
import type { Progress } from '../client/index.js';
import { formatBytes, formatDuration, formatRate } from './format.js';
import { createLiveLine, type LiveLine } from './output-live-line.js';
import { printable } from './output-width.js';
import { progressLine } from './progress-line.js';

export type ViewMode = 'tty' | 'plain' | 'json';

export interface TransferView {
  /** Updates the file's progress (throttled by the view). */
  update(progress: Progress): void;
  /** A notice about the file (a retry, a resume); a line of its own. */
  note(message: string, fields?: Record<string, unknown>): void;
  /**
   * What the transfer is waiting for before it began ("connecting… retrying in 4 s"): redrawn in
   * place on a terminal, a line per call otherwise.
   */
  waiting(message: string, fields?: Record<string, unknown>): void;
  /** The file finished (ok) or failed; `fields` go into the JSON line. The live line is gone after it. */
  finish(ok: boolean, message: string, fields?: Record<string, unknown>): void;
}

export interface ProgressView {
  readonly mode: ViewMode;
  add(label: string, kind: 'upload' | 'download'): TransferView;
  /** Erases the live line (before printing anything else, or exiting). */
  stop(): void;
}

export function chooseViewMode(json: boolean, stream: NodeJS.WriteStream = process.stderr): ViewMode {
  if (json) return 'json';
  return stream.isTTY ? 'tty' : 'plain';
}

const plainIntervalMs = 2_000;
const ttyIntervalMs = 125;

export function createProgressView(mode: ViewMode): ProgressView {
  if (mode === 'tty') return ttyView(createLiveLine(process.stderr));
  return mode === 'json' ? lineView(true) : lineView(false);
}

function summary(p: Progress): string {
  const pct = p.totalBytes === 0 ? 100 : (p.bytesAcked / p.totalBytes) * 100;
  return `${pct.toFixed(1)}% ${formatBytes(p.bytesAcked)}/${formatBytes(p.totalBytes)} ${formatRate(p.rate)} ETA ${formatDuration(p.etaSeconds)} chunks ${p.chunksDone}/${p.totalChunks} in flight ${p.inFlight}`;
}

function ttyView(live: LiveLine): ProgressView {
  return {
    mode: 'tty',
    add(label) {
      const name = printable(label);
      let last = 0;
      let finished = false;
      return {
        update(p) {
          if (finished) return;
          const now = Date.now();
          if (now - last < ttyIntervalMs && p.phase !== 'done') return;
          last = now;
          live.show(progressLine(label, p, live.width()));
        },
        note(message) {
          live.log(`${name}: ${message}`);
        },
        waiting(message) {
          if (!finished) live.show(`${name}: ${message}`);
        },
        finish(_ok, message) {
          if (finished) return;
          finished = true;
          live.clear();
          process.stderr.write(`${name}: ${message}\n`);
        },
      };
    },
    stop: () => live.clear(),
  };
}

function lineView(json: boolean): ProgressView {
  const write = (line: string) => process.stderr.write(line + '\n');
  return {
    mode: json ? 'json' : 'plain',
    add(label, kind) {
      const name = printable(label);
      let last = 0;
      let startShown = false;
      let doneShown = false;
      let finished = false;
      const show = (p: Progress) => {
        if (json) process.stdout.write(JSON.stringify({ event: 'progress', kind, file: label, ...p }) + '\n');
        else write(`${name}: ${summary(p)}`);
      };
      const note = (message: string, fields: Record<string, unknown> = {}) => {
        if (json) process.stdout.write(JSON.stringify({ event: 'note', kind, file: label, message, ...fields }) + '\n');
        else write(`${name}: ${message}`);
      };
      return {
        update(progress) {
          // After the result (or a second report of the end) there is nothing new to say.
          if (finished || doneShown) return;
          let p = progress;
          // One 'starting' line per file (the engine's first report: what was already there); a later
          // report of that phase has bytes moving.
          if (p.phase === 'starting' && startShown) p = { ...p, phase: 'transferring' };
          const now = Date.now();
          const first = p.phase === 'starting' || p.phase === 'done';
          if (!first && now - last < (json ? 500 : plainIntervalMs)) return;
          last = now;
          if (p.phase === 'starting') startShown = true;
          if (p.phase === 'done') doneShown = true;
          show(p);
        },
        note,
        waiting: note,
        finish(ok, message, fields = {}) {
          if (finished) return;
          finished = true;
          if (json) process.stdout.write(JSON.stringify({ event: ok ? 'done' : 'error', kind, file: label, message, ...fields }) + '\n');
          else write(`${name}: ${message}`);
        },
      };
    },
    stop() {},
  };
}
