// How fast can the emulated WAN link (bench/lib/link.ts) carry bytes at all? N connections through the
// link to a loopback sink, each pushing its share of a fixed byte count as fast as it can; reports the
// aggregate and per-connection rates and the link's own counters.
//
//   npx tsx bench/tools/link-ceiling.ts --profile far --n 16 --dir up [--total 512] [--mode process|inproc]
//                                       [--slice 2] [--request 8] [--reader-pause 20/200]
//
// --mode process (default) runs the link in its own process as the bench does (startLinkProcess);
// inproc runs it in this process.
import net from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startLink, type LinkOptions, type LinkStats } from '../lib/link.js';
import { startLinkProcess } from '../lib/link-process.js';
import { MiB } from '../lib/stats.js';
import { wanProfiles } from '../lib/wan-profiles.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

interface Running {
  url: string;
  stop(): Promise<{ stats: LinkStats; cpuSeconds: number }>;
}

async function startTheLink(mode: string, target: string, o: LinkOptions): Promise<Running> {
  if (mode !== 'inproc') return startLinkProcess(repo, target, o);
  const link = await startLink(target, o);
  return {
    url: link.url,
    async stop() {
      const cpuSeconds = link.cpuSeconds();
      await link.close();
      return { stats: link.stats, cpuSeconds };
    },
  };
}

/** Per receiving end: when its first and last byte came. */
interface Recv {
  bytes: number;
  first: number;
  last: number;
}

async function main(): Promise<void> {
  const { values: a } = parseArgs({
    options: {
      profile: { type: 'string', default: 'far' },
      n: { type: 'string', default: '16' },
      dir: { type: 'string', default: 'up' },
      total: { type: 'string', default: '512' },
      mode: { type: 'string', default: 'process' },
      slice: { type: 'string' },
      request: { type: 'string' },
      'reader-pause': { type: 'string' },
    },
  });
  const profile = wanProfiles.find((p) => p.name === a.profile);
  if (!profile) throw new Error(`no profile ${a.profile}`);
  const n = Number(a.n);
  const per = Math.floor((Number(a.total) * MiB) / n);
  const total = per * n;
  const up = a.dir === 'up';
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  // With --request, each connection moves its share as a series of requests of this many bytes, one at
  // a time, each answered by one byte (upload) or asked for by one byte (download): an HTTP-like turn.
  const reqBytes = a.request ? Math.floor(Number(a.request) * MiB) : per;

  // Pushes `bytes` into a socket as fast as it takes them, then ends it (or not).
  const push = (s: net.Socket, bytes: number, done: () => void, end = true) => {
    let left = bytes;
    const more = () => {
      while (left > 0) {
        const b = left >= chunk.length ? chunk : chunk.subarray(0, left);
        left -= b.length;
        if (!s.write(b)) return void s.once('drain', more);
      }
      if (end) s.end(done);
      else done();
    };
    more();
  };

  // The timeline of what the receiving ends got, for the steady rate between 10 % and 90 %.
  let got = 0;
  let t10 = 0;
  let t90 = 0;
  const recvs: Recv[] = [];
  const receivers: net.Socket[] = [];
  // --reader-pause P/E: every receiving end stops reading for P ms every E ms (a disk write, an fsync).
  const [pauseMs, everyMs] = (a['reader-pause'] ?? '0/0').split('/').map(Number) as [number, number];
  const pacer = pauseMs
    ? setInterval(() => {
        for (const s of receivers) s.pause();
        setTimeout(() => {
          for (const s of receivers) s.resume();
        }, pauseMs);
      }, everyMs)
    : null;
  const receive = (s: net.Socket) => {
    const r: Recv = { bytes: 0, first: 0, last: 0 };
    recvs.push(r);
    receivers.push(s);
    s.on('data', (b: Buffer) => {
      const now = performance.now();
      if (r.bytes === 0) r.first = now;
      r.bytes += b.length;
      r.last = now;
      got += b.length;
      if (!t10 && got >= total * 0.1) t10 = now;
      if (!t90 && got >= total * 0.9) t90 = now;
    });
    return r;
  };

  // The sink: upload, it reads to the end then says so; download, it sends `per` bytes on the first byte in.
  const sink = net.createServer({ allowHalfOpen: true, noDelay: true }, (s) => {
    s.on('error', () => {});
    if (up) {
      const r = receive(s);
      let acked = 0;
      s.on('data', () => {
        while (r.bytes >= Math.min(per, acked + reqBytes) && acked < per) {
          acked = Math.min(per, acked + reqBytes);
          s.write('k');
        }
      });
      s.on('end', () => s.end());
    } else {
      let sent = 0;
      s.on('data', () => {
        const n = Math.min(reqBytes, per - sent);
        sent += n;
        push(s, n, () => {}, sent >= per);
      });
    }
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const sinkPort = (sink.address() as net.AddressInfo).port;

  const o: LinkOptions = {
    rttMs: profile.rttMs,
    perConnectionBytesPerSecond: profile.perConnectionBytesPerSecond,
    sharedBytesPerSecond: profile.sharedBytesPerSecond,
    faults: null,
    ...(a.slice ? { sliceMs: Number(a.slice) } : {}),
  };
  const link = await startTheLink(a.mode!, `http://127.0.0.1:${sinkPort}`, o);
  const linkPort = Number(new URL(link.url).port);

  const cpu0 = process.cpuUsage();
  const start = performance.now();
  await Promise.all(
    Array.from({ length: n }, () =>
      new Promise<void>((resolveConn, reject) => {
        const s = net.connect({ host: '127.0.0.1', port: linkPort, noDelay: true, allowHalfOpen: true });
        s.on('error', reject);
        s.on('connect', () => {
          if (up) {
            let sent = 0;
            const next = () => {
              const n = Math.min(reqBytes, per - sent);
              sent += n;
              push(s, n, () => {}, false);
            };
            let acks = 0;
            s.on('data', (b: Buffer) => {
              acks += b.length;
              if (sent < per) next();
              else if (acks === Math.ceil(per / reqBytes)) s.end();
            });
            s.on('end', () => resolveConn());
            next();
          } else {
            const r = receive(s);
            let asked = reqBytes;
            s.write('g');
            s.on('data', () => {
              if (r.bytes >= asked && asked < per) {
                asked += reqBytes;
                s.write('g');
              }
            });
            s.on('end', () => (r.bytes === per ? resolveConn() : reject(new Error(`short: ${r.bytes}`))));
          }
        });
      }),
    ),
  );
  const wall = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  if (pacer) clearInterval(pacer);
  const { stats, cpuSeconds } = await link.stop();
  sink.close();

  const rates = recvs.map((r) => r.bytes / MiB / ((r.last - r.first) / 1000)).sort((x, y) => x - y);
  const f = (x: number) => x.toFixed(1);
  const steady = (0.8 * total) / MiB / ((t90 - t10) / 1000);
  const row = {
    profile: profile.name,
    dir: a.dir,
    n,
    mode: a.mode,
    requestMiB: a.request ? Number(a.request) : null,
    readerPause: a['reader-pause'] ?? null,
    totalMiB: total / MiB,
    wallS: +wall.toFixed(2),
    aggMiBs: +f(total / MiB / wall),
    steadyMiBs: +f(steady),
    perConnMiBs: `${f(rates[0]!)} / ${f(rates[rates.length >> 1]!)} / ${f(rates[rates.length - 1]!)}`,
    linkCpuS: +cpuSeconds.toFixed(2),
    linkCores: +(cpuSeconds / wall).toFixed(2),
    probeCores: +((cpu.user + cpu.system) / 1e6 / wall).toFixed(2),
    pauses: stats.pauses,
    peakBufferedMiB: +(stats.peakBufferedBytes / MiB).toFixed(1),
    maxSliceGapMs: +stats.maxSliceGapMs.toFixed(1),
    lostMs: +stats.lostMs.toFixed(1),
  };
  process.stdout.write(`${JSON.stringify(row)}\n`);
}

await main();
