// aria2c through the emulated link (started as the bench does) from a server that makes its bytes up
// (no disk read), the file landing in /dev/shm: where does a 16-connection client spend its time?
// Prints each request as the server saw it (start, end, range) and the wall clock.
//
//   npx tsx bench/tools/link-aria2.ts --profile far --size 1024 --x 16
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import http from 'node:http';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startLinkProcess } from '../lib/link-process.js';
import { MiB } from '../lib/stats.js';
import { wanProfiles } from '../lib/wan-profiles.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { values: a } = parseArgs({ options: { profile: { type: 'string', default: 'far' }, size: { type: 'string', default: '1024' }, x: { type: 'string', default: '16' } } });
const profile = wanProfiles.find((p) => p.name === a.profile)!;
const size = Number(a.size) * MiB;
const zeros = Buffer.alloc(256 * 1024);
let t0 = 0;
const log: string[] = [];
const ms = () => (performance.now() - t0).toFixed(0).padStart(5);

const server = http.createServer((req, res) => {
  const m = /bytes=(\d+)-(\d*)/.exec(req.headers.range ?? '');
  const from = m ? Number(m[1]) : 0;
  const to = m && m[2] ? Number(m[2]) : size - 1;
  const n = to - from + 1;
  const begin = ms();
  res.writeHead(m ? 206 : 200, { 'content-length': n, 'accept-ranges': 'bytes', ...(m ? { 'content-range': `bytes ${from}-${to}/${size}` } : {}) });
  if (req.method === 'HEAD') return void res.end();
  let left = n;
  const more = () => {
    while (left > 0) {
      const b = left >= zeros.length ? zeros : zeros.subarray(0, left);
      left -= b.length;
      if (!res.write(b)) return void res.once('drain', more);
    }
    res.end();
  };
  res.on('close', () => log.push(`${begin} → ${ms()} ms  ${req.method} ${from}-${to} (${(n / MiB).toFixed(1)} MiB)${left > 0 ? `, stopped with ${(left / MiB).toFixed(1)} MiB unsent` : ''}`));
  more();
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as { port: number }).port;
const link = await startLinkProcess(repo, `http://127.0.0.1:${port}`, { rttMs: profile.rttMs, perConnectionBytesPerSecond: profile.perConnectionBytesPerSecond, sharedBytesPerSecond: profile.sharedBytesPerSecond, faults: null });
const out = '/dev/shm/link-aria2.bin';
t0 = performance.now();
const code = await new Promise<number | null>((r) => {
  const child = spawn('aria2c', [`-x${a.x}`, `-s${a.x}`, '--quiet=true', '--allow-overwrite=true', '--auto-file-renaming=false', '-d', dirname(out), '-o', 'link-aria2.bin', `${link.url}/f`], { stdio: 'inherit' });
  child.on('close', r);
});
const wall = (performance.now() - t0) / 1000;
const { stats, cpuSeconds } = await link.stop();
server.close();
await rm(out, { force: true });
console.log(log.sort().join('\n'));
console.log(JSON.stringify({ profile: profile.name, x: Number(a.x), sizeMiB: size / MiB, exit: code, wallS: +wall.toFixed(2), MiBs: +(size / MiB / wall).toFixed(1), linkCores: +(cpuSeconds / wall).toFixed(2), maxSliceGapMs: +stats.maxSliceGapMs.toFixed(1), lostMs: stats.lostMs, bytesDownMiB: +(stats.bytesDown / MiB).toFixed(1) }));
