// The tail of a download over slow connections: the last pieces go as sub-ranges at once (tail.ts),
// each piece read back and checked whole; a piece whose parts do not check out is fetched again whole.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { partsFor } from '../../src/client/download/tail.js';
import { listenOnLoopback } from '../helpers/ports.js';
import { KiB, MiB, startTestServer } from '../helpers/server.js';
import { download } from './engine.js';
import { bytesServed, storeFile, tempDir } from './support.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Front {
  url: string;
  /** The Range header of every GET of the file's bytes, in arrival order. */
  ranges: string[];
}

/**
 * A reverse proxy in front of the server that paces every response body (each connection at
 * `bytesPerSecond`, as a long link's window does) and records the ranges asked for. `corrupt`
 * picks responses whose body gets one byte flipped.
 */
async function slowFront(target: string, bytesPerSecond: number, corrupt: (range: string) => boolean = () => false): Promise<Front> {
  const ranges: string[] = [];
  const origin = new URL(target);
  const server: Server = createServer((req, res) => {
    const range = req.headers.range;
    if (req.method === 'GET' && range) ranges.push(range);
    const flip = range !== undefined && corrupt(range);
    const up = request({ host: origin.hostname, port: origin.port, method: req.method, path: req.url, headers: req.headers }, (answer: IncomingMessage) => {
      res.writeHead(answer.statusCode!, answer.headers);
      void pace(answer, res, bytesPerSecond, flip);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  const port = await listenOnLoopback(server);
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  cleanups.push(async () => server.closeAllConnections());
  return { url: `http://127.0.0.1:${port}`, ranges };
}

/** Copies `from` to `to` at about `bytesPerSecond`, in 16 KiB steps; flips the first byte when asked. */
async function pace(from: IncomingMessage, to: NodeJS.WritableStream & { end(): void }, bytesPerSecond: number, flip: boolean): Promise<void> {
  const started = performance.now();
  let sent = 0;
  for await (const chunk of from) {
    const data = Buffer.from(chunk as Buffer);
    if (flip && sent === 0 && data.length > 0) data[0]! ^= 0xff;
    for (let at = 0; at < data.length; at += 16 * KiB) {
      const piece = data.subarray(at, at + 16 * KiB);
      sent += piece.length;
      const due = started + (sent / bytesPerSecond) * 1000;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      to.write(piece);
    }
  }
  to.end();
}

/** A "bytes=a-b" header's length. */
const rangeLength = (range: string) => {
  const [a, b] = range.replace('bytes=', '').split('-').map(Number);
  return b! - a! + 1;
};

/** 8 MiB in chunks of 2 MiB on a real server, behind a front of 4 MiB/s per connection. */
async function fixture(corrupt?: (range: string) => boolean) {
  const server = await startTestServer();
  cleanups.push(() => server.dispose());
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  const data = randomBytes(8 * MiB);
  const { fileUrl } = await storeFile(server.url, data, { chunkSize: 2 * MiB, fileDigest: true });
  const front = await slowFront(server.url, 4 * MiB, corrupt);
  return { server, data, front, url: fileUrl.replace(server.url, front.url), dest: join(dir, 'out.bin') };
}

describe('download: the tail goes in parts', () => {
  it('fetches the last pieces as sub-ranges at once, checks each piece whole, and fetches nothing twice', async () => {
    const { server, data, front, url, dest } = await fixture();

    const result = await download(url, dest, { concurrency: 2 }).result;

    expect(Buffer.compare(await readFile(dest), data)).toBe(0);
    expect(result).toMatchObject({ verified: 'chunks', bytesFetched: data.length });
    const lengths = front.ranges.map(rangeLength);
    // The first two pieces whole (nothing measured yet); the last two, started in the last round
    // with a request rate known, in parts (at 4 MiB/s a 2 MiB piece is cut in 4).
    expect(lengths.filter((l) => l === 2 * MiB)).toHaveLength(2);
    expect(lengths.filter((l) => l === 512 * KiB)).toHaveLength(8);
    expect(bytesServed(server)).toBe(data.length);
  });

  it('a piece whose parts do not match its digest is fetched again whole, and the file is right', async () => {
    let corrupted = 0;
    // The first part asked for arrives with a byte flipped.
    const { server, data, front, url, dest } = await fixture((range) => rangeLength(range) === 512 * KiB && corrupted++ === 0);
    const handle = download(url, dest, { concurrency: 2 });
    const warnings: string[] = [];
    handle.on('warning', (w) => warnings.push(w.message));

    const result = await handle.result;

    expect(corrupted).toBeGreaterThan(0);
    expect(warnings.join('\n')).toMatch(/fetched in parts arrived as .*; fetching it again whole/);
    expect(Buffer.compare(await readFile(dest), data)).toBe(0);
    expect(result.verified).toBe('chunks');
    // One piece again, whole, after its four parts.
    const lengths = front.ranges.map(rangeLength);
    expect(lengths.filter((l) => l === 2 * MiB)).toHaveLength(3);
    expect(bytesServed(server)).toBe(data.length + 2 * MiB);
  });
});

describe('partsFor', () => {
  const piece = (size: number) => ({ index: 0, start: 0, end: size, digest: null });
  it('cuts only what would take long over one connection, in parts of at least 512 KiB, at most 4', () => {
    expect(partsFor(piece(8 * MiB), null)).toBe(1); // no rate measured yet
    expect(partsFor(piece(8 * MiB), (1000 * MiB) / 1000)).toBe(1); // loopback: 8 ms
    expect(partsFor(piece(8 * MiB), (20 * MiB) / 1000)).toBe(4); // a long link: 400 ms
    expect(partsFor(piece(8 * MiB), (40 * MiB) / 1000)).toBe(2); // 200 ms
    expect(partsFor(piece(1 * MiB), (1 * MiB) / 1000)).toBe(2); // slow, but parts stay ≥ 512 KiB
  });
});
