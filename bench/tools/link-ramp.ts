// An idealised request client through the emulated link: a pool of equal requests, `--start` in flight at
// first, every completion adding one more (the limit doubles each round, as Ferry's ramp does) up to
// `--max`, one connection per request in flight, nothing else (no process start, no setup requests, no
// disk, no hashing). What would a client with Ferry's schedule get from the link alone?
//
//   npx tsx bench/tools/link-ramp.ts --profile far --dir down --total 1024 --request 8 --start 8 --max 32
import net from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startLinkProcess } from '../lib/link-process.js';
import { MiB } from '../lib/stats.js';
import { wanProfiles } from '../lib/wan-profiles.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { values: a } = parseArgs({
  options: {
    profile: { type: 'string', default: 'far' },
    dir: { type: 'string', default: 'down' },
    total: { type: 'string', default: '1024' },
    request: { type: 'string', default: '8' },
    start: { type: 'string', default: '8' },
    max: { type: 'string', default: '32' },
  },
});
const profile = wanProfiles.find((p) => p.name === a.profile)!;
const up = a.dir === 'up';
const size = Number(a.request) * MiB;
let pool = Math.floor((Number(a.total) * MiB) / size);
const total = pool * size;
const max = Number(a.max);
let limit = Number(a.start);
const chunk = Buffer.alloc(64 * 1024, 0x5a);

const push = (s: net.Socket, bytes: number) => {
  let left = bytes;
  const more = () => {
    while (left > 0) {
      const b = left >= chunk.length ? chunk : chunk.subarray(0, left);
      left -= b.length;
      if (!s.write(b)) return void s.once('drain', more);
    }
  };
  more();
};

// The sink: a download sends one request's bytes per byte asked; an upload is answered per request's bytes.
const sink = net.createServer({ allowHalfOpen: true, noDelay: true }, (s) => {
  s.on('error', () => {});
  s.on('end', () => s.end());
  if (up) {
    let got = 0;
    s.on('data', (b: Buffer) => {
      got += b.length;
      while (got >= size) {
        got -= size;
        s.write('k');
      }
    });
  } else {
    s.on('data', (b: Buffer) => {
      for (let i = 0; i < b.length; i++) push(s, size);
    });
  }
});
await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
const link = await startLinkProcess(repo, `http://127.0.0.1:${(sink.address() as net.AddressInfo).port}`, {
  rttMs: profile.rttMs,
  perConnectionBytesPerSecond: profile.perConnectionBytesPerSecond,
  sharedBytesPerSecond: profile.sharedBytesPerSecond,
  faults: null,
});
const port = Number(new URL(link.url).port);

let open = 0;
let done = 0;
let peak = 0;
const t0 = performance.now();
const rounds: string[] = [];
const finished = new Promise<void>((resolveAll) => {
  const connect = () => {
    open++;
    peak = Math.max(peak, open);
    const s = net.connect({ host: '127.0.0.1', port, noDelay: true, allowHalfOpen: true });
    s.on('error', (e) => {
      throw e;
    });
    let got = 0;
    const take = () => {
      if (pool === 0) {
        open--;
        s.end();
        s.resume();
        return;
      }
      pool--;
      got = 0;
      if (up) push(s, size);
      else s.write('g');
    };
    s.on('data', (b: Buffer) => {
      got += up ? b.length * size : b.length; // upload: one "k" stands for a whole request
      if (got < size) return;
      done++;
      if (done % 16 === 0) rounds.push(`${((performance.now() - t0) / 1000).toFixed(2)} s: ${done} done, ${open} open`);
      if (done === total / size) return resolveAll();
      limit = Math.min(max, limit + 1);
      take();
      while (open < limit && pool > 0) connect();
    });
    s.on('connect', take);
  };
  for (let i = 0; i < limit; i++) connect();
});
await finished;
const wall = (performance.now() - t0) / 1000;
const { stats, cpuSeconds } = await link.stop();
sink.close();
console.log(rounds.join('\n'));
console.log(JSON.stringify({ profile: profile.name, dir: a.dir, requestMiB: Number(a.request), start: Number(a.start), max, peakOpen: peak, totalMiB: total / MiB, wallS: +wall.toFixed(2), MiBs: +(total / MiB / wall).toFixed(1), linkCores: +(cpuSeconds / wall).toFixed(2), maxSliceGapMs: +stats.maxSliceGapMs.toFixed(1), lostMs: stats.lostMs }));
process.exit(0);
