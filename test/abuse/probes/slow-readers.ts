// Row 4: a thousand downloads of a big file, each read at a trickle (one socket read a second, after
// which the reader pauses). Most come from 40 client addresses, under the per-address caps, so that
// the server's response-buffer budget is what holds memory down (RSS < 300 MiB, back near idle once
// the readers have gone); 64 come from one address, whose download cap must answer 429 beyond it.
import net from 'node:net';
import type { ProbeOutcome, ProbeSpec } from '../support/harness.js';
import { chunkedUpload, MiB } from '../support/ferry.js';
import { clientAddress } from '../support/traffic.js';

interface Reader {
  /** Resolves once the first bytes arrived or the connection closed. */
  started: Promise<void>;
  status(): number | null;
  bytes(): number;
  closed(): boolean;
  trickle(): void;
  close(): void;
}

function reader(port: number, path: string, from: string): Reader {
  const sock = net.connect({ port, host: '127.0.0.1', localAddress: from });
  let head = '';
  let status: number | null = null;
  let bytes = 0;
  let closed = false;
  let onStart!: () => void;
  const started = new Promise<void>((r) => (onStart = r));
  sock.on('error', () => {});
  sock.on('close', () => ((closed = true), onStart()));
  sock.on('connect', () => sock.write(`GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`));
  sock.on('data', (d: Buffer) => {
    bytes += d.length;
    if (status === null) {
      head += d.subarray(0, 64).toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(head);
      if (m) status = Number(m[1]);
    }
    // One read, then nothing until the next trickle: the server's buffers fill, its sends stall.
    sock.pause();
    onStart();
  });
  return {
    started,
    status: () => status,
    bytes: () => bytes,
    closed: () => closed,
    trickle: () => void (closed || sock.resume()),
    close: () => sock.destroy(),
  };
}

export function slowReadersProbe(o: { readers?: number; oneClient?: number; addresses?: number; fileSize?: number; holdMs?: number; settleMs?: number } = {}): ProbeSpec {
  const readers = o.readers ?? 1000;
  const oneClient = o.oneClient ?? 64;
  const addresses = o.addresses ?? 40;
  const fileSize = o.fileSize ?? 128 * MiB;
  const holdMs = o.holdMs ?? 10_000;
  const settleMs = o.settleMs ?? 10_000;
  return {
    id: 'slow-readers',
    title: `${readers.toLocaleString('en')} downloads of a ${fileSize / MiB} MiB file (${oneClient} from one client, the rest from ${addresses}), each reading a trickle for ${holdMs / 1000} s, then gone`,
    bound: 'peak RSS < 300 MiB; RSS ≤ idle + 64 MiB within 8 s of their leaving; one client capped (429); 0 5xx',
    manyConnections: true,
    async run(env): Promise<ProbeOutcome> {
      const http = env.http;
      const chunkSize = 8 * MiB;
      const up = await chunkedUpload(http, { name: 'big.bin', chunkSize, totalChunks: Math.ceil(fileSize / chunkSize), parallel: 4 });
      const fileId = up.lastAck?.json?.fileId as string | undefined;
      if (!fileId) return { result: `setup failed: create ${up.create.status}, ${up.refused} chunks refused`, checks: { 'file made': false } };
      const all: Reader[] = [];
      let heldAtPeak = 0;
      await env.measure(async () => {
        const idleFds = env.fds();
        // In batches the server has answered: past the listen backlog the kernel would queue them unseen.
        for (let opened = 0; opened < readers; ) {
          const batch = Array.from({ length: Math.min(200, readers - opened) }, (_, k) => {
            const i = opened + k;
            return reader(env.port, `/files/${fileId}`, i < oneClient ? '127.0.0.1' : clientAddress(i % addresses));
          });
          all.push(...batch);
          opened += batch.length;
          await Promise.race([Promise.all(batch.map((r) => r.started)), new Promise((r) => setTimeout(r, 10_000))]);
        }
        const trickle = setInterval(() => all.forEach((r) => r.trickle()), 1000);
        await new Promise((r) => setTimeout(r, holdMs));
        clearInterval(trickle);
        heldAtPeak = all.filter((r) => r.status() === 200 && !r.closed()).length;
        for (const r of all) r.close();
        // Until the server has let go of the sockets, and then its memory has had time to come back.
        const deadline = Date.now() + settleMs;
        while (Date.now() < deadline && env.fds() > idleFds + 16) await new Promise((r) => setTimeout(r, 100));
        await new Promise((r) => setTimeout(r, Math.max(0, Math.min(8000, deadline - Date.now()))));
      });
      for (const r of all) http.record(r.status());
      const w = env.window()!;
      const read = all.reduce((n, r) => n + r.bytes(), 0);
      const refused = all.filter((r) => r.status() !== null && r.status() !== 200).length;
      const single = all.slice(0, oneClient);
      const singleCapped = single.filter((r) => r.status() === 429).length;
      const singleClosed = single.filter((r) => r.status() === null).length;
      return {
        result: `${heldAtPeak} streaming at once, ${refused} refused (one client: ${singleCapped} × 429${singleClosed ? `, ${singleClosed} closed unanswered` : ''} of ${oneClient}); read ${(read / MiB).toFixed(0)} MiB in all; RSS ${(w.rss.before / MiB).toFixed(0)} → ${(w.rss.peak / MiB).toFixed(0)} → ${(w.rss.after / MiB).toFixed(0)} MiB`,
        checks: {
          'peak RSS < 300 MiB': w.rss.peak < 300 * MiB,
          'RSS back near idle after they left (≤ idle + 64 MiB)': w.rss.after <= w.rss.before + 64 * MiB,
          'one client capped: 429 beyond its download cap': oneClient === 0 || singleCapped > 0,
        },
      };
    },
  };
}
