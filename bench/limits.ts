// "Where the time goes": limits derived from this run's own figures (SHA-256 speed, CPU time, the
// references with and without fdatasync), so each shortfall is explained by numbers from the same run.
import { cpus } from 'node:os';
import type { Table } from './lib/report.js';
import { MiB, seconds } from './lib/stats.js';

export function limitsTable(facts: Record<string, number>, size: number): Table | null {
  const cores = cpus().length;
  const f = (key: string) => facts[key];
  const rows: string[][] = [];
  const add = (what: string, value: number | undefined, unit: string, how: string) => {
    if (value !== undefined && Number.isFinite(value)) rows.push([what, `${unit === 's' ? seconds(value) : value.toFixed(2)} ${unit}`.trim(), how]);
  };
  const sha = f(`sha.${8 * MiB}.bytesPerSecond`);
  const hashOnce = sha ? size / sha : undefined;
  add('SHA-256 of the file, once, one core', hashOnce, 's', 'file size ÷ the measured SHA-256 speed');
  add('… Ferry hashes every byte twice (client and server)', hashOnce && 2 * hashOnce, 's', 'CPU that verification adds to any upload');

  const ref = f('upload.raw-sync.seconds');
  const refCpu = f('upload.raw-sync.cpu');
  const noSync = f('upload.raw-nosync.seconds');
  add('Upload reference: curl -T → Node, with fdatasync', ref, 's', `its CPU: ${refCpu === undefined ? '?' : seconds(refCpu)} s`);
  add('… the same without fdatasync (loopback + page cache)', noSync, 's', 'no disk wait: the floor for any upload here');
  add("… the disk's share (fdatasync)", ref !== undefined && noSync !== undefined ? ref - noSync : undefined, 's', 'difference of the two');
  const ferry = f('upload.ferry-cli.seconds');
  const ferryCpu = f('upload.ferry-cli.cpu');
  add('Ferry CLI upload (defaults)', ferry, 's', `its CPU, client + server: ${ferryCpu === undefined ? '?' : seconds(ferryCpu)} s`);
  const engine = f('upload.ferry-cli.engine');
  add('… of which starting and stopping the CLI process', ferry !== undefined && engine !== undefined ? ferry - engine : undefined, 's', 'wall time − the transfer time the CLI reports');
  add('Ferry library upload (defaults), in-process', f('upload.ferry-lib.seconds'), 's', `its CPU, client + server: ${f('upload.ferry-lib.cpu') === undefined ? '?' : seconds(f('upload.ferry-lib.cpu')!)} s`);
  const libCpu = f('upload.ferry-lib.cpu');
  add(`… Ferry's CPU floor on ${cores} cores`, (libCpu ?? ferryCpu) && (libCpu ?? ferryCpu)! / cores, 's', `${libCpu ? 'library' : 'CLI'} CPU ÷ cores: client and server share this machine`);
  add('… the time the 0.85× target asks for', ref && ref / 0.85, 's', 'reference ÷ 0.85');
  const tus = f('upload.tus.seconds');
  add('tus-js-client → @tus/server (no fsync)', tus, 's', 'one PATCH of the whole file; the file store never fsyncs');
  add('… the time the 1.5× tus target asks for', tus && tus / 1.5, 's', `tus ÷ 1.5, against ${noSync === undefined ? '?' : seconds(noSync)} s without any fdatasync`);

  const nginx = f('download.curl-nginx.seconds');
  const dl = f('download.ferry-download.seconds');
  const dlCpu = f('download.ferry-download.cpu');
  add('Download reference: curl ← nginx (sendfile)', nginx, 's', `its CPU: ${f('download.curl-nginx.cpu') === undefined ? '?' : seconds(f('download.curl-nginx.cpu')!)} s`);
  add('curl ← Ferry (no verification)', f('download.curl-ferry.seconds'), 's', "the Ferry server's share: read + socket copies, no sendfile in Node");
  add('Ferry download (verified)', dl, 's', `its CPU, client + server: ${dlCpu === undefined ? '?' : seconds(dlCpu)} s`);
  add(`… its CPU floor on ${cores} cores`, dlCpu && dlCpu / cores, 's', 'CPU ÷ cores');
  add('… the time the 0.9× nginx target asks for', nginx && nginx / 0.9, 's', 'reference ÷ 0.9');
  if (rows.length === 0) return null;
  return {
    title: 'Where the time goes (derived from this run)',
    intro: 'Every value is computed from figures above, medians of the same run; the analysis below refers to these rows.',
    columns: ['figure', 'value', 'how'],
    rows,
  };
}
