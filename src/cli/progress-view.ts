// Shows transfer progress: a bar per file on a TTY, periodic plain lines otherwise, JSON lines with --json.
import cliProgress from 'cli-progress';
import type { Progress } from '../client/index.js';
import { formatBytes, formatDuration, formatRate } from './format.js';

export type ViewMode = 'tty' | 'plain' | 'json';

export interface TransferView {
  /** Updates the file's progress (throttled by the view). */
  update(progress: Progress): void;
  /** A notice about the file (a retry, a resume); shown above the bars on a TTY. */
  note(message: string, fields?: Record<string, unknown>): void;
  /** The file finished (ok) or failed; `fields` go into the JSON line. */
  finish(ok: boolean, message: string, fields?: Record<string, unknown>): void;
}

export interface ProgressView {
  add(label: string, kind: 'upload' | 'download'): TransferView;
  stop(): void;
}

export function chooseViewMode(json: boolean, stream: NodeJS.WriteStream = process.stderr): ViewMode {
  if (json) return 'json';
  return stream.isTTY ? 'tty' : 'plain';
}

const plainIntervalMs = 2_000;

export function createProgressView(mode: ViewMode): ProgressView {
  if (mode === 'tty') return ttyView();
  return mode === 'json' ? lineView(true) : lineView(false);
}

function summary(p: Progress): string {
  const pct = p.totalBytes === 0 ? 100 : (p.bytesAcked / p.totalBytes) * 100;
  return `${pct.toFixed(1)}% ${formatBytes(p.bytesAcked)}/${formatBytes(p.totalBytes)} ${formatRate(p.rate)} ETA ${formatDuration(p.etaSeconds)} chunks ${p.chunksDone}/${p.totalChunks} in flight ${p.inFlight}`;
}

function ttyView(): ProgressView {
  const bars = new cliProgress.MultiBar(
    {
      format: ' {label} |{bar}| {percentage}% {done}/{size} {rate} ETA {eta_h} {inflight} in flight',
      barCompleteChar: '█',
      barIncompleteChar: '░',
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      fps: 8,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_grey,
  );
  return {
    add(label) {
      const bar = bars.create(1, 0, { label, done: '0 B', size: '?', rate: formatRate(null), eta_h: '--:--', inflight: 0 });
      return {
        update(p) {
          bar.setTotal(Math.max(1, p.totalBytes));
          bar.update(p.totalBytes === 0 && p.phase === 'done' ? 1 : p.bytesAcked, {
            label,
            done: formatBytes(p.bytesAcked),
            size: formatBytes(p.totalBytes),
            rate: formatRate(p.rate),
            eta_h: formatDuration(p.etaSeconds),
            inflight: p.inFlight,
          });
        },
        note(message) {
          bars.log(`${label}: ${message}\n`);
        },
        finish(ok, message) {
          bars.log(`${label}: ${message}\n`);
          if (ok) bar.update(bar.getTotal());
        },
      };
    },
    stop: () => bars.stop(),
  };
}

function lineView(json: boolean): ProgressView {
  const write = (line: string) => process.stderr.write(line + '\n');
  return {
    add(label, kind) {
      let last = 0;
      let startShown = false;
      let doneShown = false;
      let finished = false;
      const show = (p: Progress) => {
        if (json) process.stdout.write(JSON.stringify({ event: 'progress', kind, file: label, ...p }) + '\n');
        else write(`${label}: ${summary(p)}`);
      };
      return {
        update(progress) {
          // After the result (or a second report of the end) there is nothing new to say.
          if (finished || doneShown) return;
          let p = progress;
          if (p.phase === 'starting') {
            if (!startShown && p.bytesSent > 0) {
              // The first request is already on the wire (an upload's chunk 0 goes with its creation):
              // show the start as it was just before it, then this report as the transfer it is.
              startShown = true;
              last = Date.now();
              show({ ...p, bytesSent: p.bytesSent - p.bytesInFlight, bytesInFlight: 0, inFlight: 0, rate: null, etaSeconds: null });
            }
            // One 'starting' line per file; a later report of that phase has bytes moving.
            if (startShown) p = { ...p, phase: 'transferring' };
          }
          const now = Date.now();
          const first = p.phase === 'starting' || p.phase === 'done';
          if (!first && now - last < (json ? 500 : plainIntervalMs)) return;
          last = now;
          if (p.phase === 'starting') startShown = true;
          if (p.phase === 'done') doneShown = true;
          show(p);
        },
        note(message, fields = {}) {
          if (json) process.stdout.write(JSON.stringify({ event: 'note', kind, file: label, message, ...fields }) + '\n');
          else write(`${label}: ${message}`);
        },
        finish(ok, message, fields = {}) {
          if (finished) return;
          finished = true;
          if (json) process.stdout.write(JSON.stringify({ event: ok ? 'done' : 'error', kind, file: label, message, ...fields }) + '\n');
          else write(`${label}: ${message}`);
        },
      };
    },
    stop() {},
  };
}
