// The Node RangeTransport (src/client/node/range-transport.ts) against real sockets. Its fast path
// (plain http:, no proxy: sockets of our own) against a node:http server for well-formed answers and
// raw TCP servers that misbehave on purpose (cut, short, long, malformed, chunked, interim responses,
// a keep-alive closed while idle or as it is reused); the same through undici (https:, proxies,
// redirects, or fastPath: false); what goes which way; then the engine's Exchange over it (lengths
// checked, idle watchdog, abort).
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Exchange } from '../../src/client/download/http.js';
import type { RangeTransport } from '../../src/client/download/io.js';
import { DownloadError } from '../../src/client/download/errors.js';
import { NetworkError } from '../../src/client/engine/errors.js';
import { createHttpDispatcher, type HttpDispatcherOptions } from '../../src/client/node/http-dispatcher.js';
import { findNetworkFailure } from '../../src/client/engine/network-failure.js';

/** The system or library code the engine's classifier finds in a transport's error. */
const transportErrorCode = (e: unknown) => findNetworkFailure(e).code;
import { createRangeTransport, HttpWireError } from '../../src/client/node/range-transport.js';
import { systemClock } from '../../src/client/engine/clock.js';
import { startForwardProxy } from '../helpers/forward-proxy.js';
import { closedPort } from '../helpers/ports.js';
import { KiB } from '../helpers/server.js';
import { makeTestCa, opensslMissing } from '../helpers/tls-ca.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
// No proxy from the machine's environment: the fast path is taken where it applies (tests that want
// a proxy set one).
beforeEach(() => {
  for (const name of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy']) vi.stubEnv(name, undefined);
});
afterEach(() => vi.unstubAllEnvs());

function transport(options: Parameters<typeof createRangeTransport>[0] = {}) {
  const t = createRangeTransport(options);
  cleanups.push(() => t.close());
  return t;
}

/** A transport that sends every GET through undici, on a dispatcher of its own. */
function undiciTransport(options: Parameters<typeof createRangeTransport>[0] = {}, dispatcherOptions: HttpDispatcherOptions = {}) {
  const dispatcher = createHttpDispatcher(dispatcherOptions);
  cleanups.push(() => dispatcher.destroy());
  return transport({ fastPath: false, dispatcher, ...options });
}

interface Listening {
  url: string;
  /** TCP connections accepted so far. */
  connections: number;
  /** Request heads received, in order. */
  requests: string[];
  sockets: Set<Socket>;
}

async function listen(server: HttpServer | TcpServer): Promise<Listening> {
  const state: Listening = { url: '', connections: 0, requests: [], sockets: new Set() };
  server.on('connection', (s: Socket) => {
    state.connections++;
    state.sockets.add(s);
    s.on('close', () => state.sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  state.url = `http://127.0.0.1:${port}`;
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const s of state.sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return state;
}

/** A node:http server answering ranges of `data` (206 + Content-Length), keep-alive. */
async function rangeServer(data: Buffer, options: { chunked?: boolean } = {}) {
  const server = createHttpServer((req, res) => {
    state.requests.push(`${req.method} ${req.url} ${JSON.stringify(req.headers)}`);
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    const [start, end] = m ? [Number(m[1]), Number(m[2]) + 1] : [0, data.length];
    const body = data.subarray(start, end);
    const headers: Record<string, string> = { 'content-range': `bytes ${start}-${end - 1}/${data.length}`, etag: '"e"' };
    if (options.chunked) {
      res.writeHead(206, headers);
      // Several chunks of odd sizes, then a trailer.
      for (let at = 0; at < body.length; at += 7777) res.write(body.subarray(at, at + 7777));
      res.addTrailers({ 'x-trailer': 'yes' });
      res.end();
    } else {
      res.writeHead(206, { ...headers, 'content-length': String(body.length) });
      res.end(body);
    }
  });
  const state = await listen(server);
  return state;
}

/** A raw TCP server: `answer` gets each connection and the request heads as they arrive. */
async function rawServer(answer: (socket: Socket, request: string, index: number) => void) {
  let index = 0;
  const server = createTcpServer((socket) => {
    let pending = '';
    socket.on('data', (d) => {
      pending += d.toString('latin1');
      for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
        const head = pending.slice(0, end);
        pending = pending.slice(end + 4);
        state.requests.push(head);
        answer(socket, head, index++);
      }
    });
    socket.on('error', () => {});
  });
  const state = await listen(server);
  return state;
}

/** Reads a whole body; returns it joined, and the parts as they came (after giving them back). */
async function readAll(t: RangeTransport, url: string, headers: Record<string, string> = {}, signal = new AbortController().signal) {
  const reply = await t.get(url, headers, signal);
  const parts: Uint8Array[] = [];
  await reply.body.read((p) => parts.push(p));
  const bytes = Buffer.concat(parts.map((p) => Buffer.from(p)));
  for (const p of parts) reply.body.release(p);
  return { reply, bytes, parts };
}

describe('RangeTransport fast path (http:, no proxy)', () => {
  it('answers ranges byte-exact over one keep-alive connection, with the headers asked for', async () => {
    const data = randomBytes(300 * KiB);
    const server = await rangeServer(data);
    const t = transport();
    for (const [start, end] of [
      [0, 100 * KiB],
      [100 * KiB, 300 * KiB],
      [5, 6],
    ] as const) {
      const { reply, bytes } = await readAll(t, `${server.url}/f?x=1`, { range: `bytes=${start}-${end - 1}`, authorization: 'Bearer t' });
      expect(reply.response.status).toBe(206);
      expect(reply.response.headers.get('content-range')).toBe(`bytes ${start}-${end - 1}/${data.length}`);
      expect(reply.response.headers.get('etag')).toBe('"e"');
      expect(bytes.equals(data.subarray(start, end))).toBe(true);
    }
    const withUser = new URL(server.url);
    withUser.username = 'us%20er';
    withUser.password = 'p:w';
    await readAll(t, `${withUser.href}f`, { range: 'bytes=0-0' });
    expect(server.requests.at(-1)).toContain(`"authorization":"Basic ${Buffer.from('us er:p:w').toString('base64')}"`);
    expect(server.connections).toBe(1);
    expect(server.requests[0]).toContain('GET /f?x=1');
    expect(server.requests[0]).toContain('"authorization":"Bearer t"');
    expect(t.handles('https://example.com/f')).toBe(true);
    expect(t.handles('http://example.com/f')).toBe(true);
    expect(t.handles('ftp://example.com/f')).toBe(false);
  });

  it('hands parts over in pooled blocks that are reused once given back, and never while lent', async () => {
    const data = randomBytes(64 * KiB);
    const server = await rangeServer(data);
    const t = transport({ readBufferSize: 3000, blockSize: 10_000, maxFreeBlocks: 4 });
    const first = await readAll(t, `${server.url}/f`);
    expect(first.bytes.equals(data)).toBe(true);
    expect(first.parts.every((p) => p.byteLength <= 10_000)).toBe(true);
    const firstBlocks = new Set(first.parts.map((p) => p.buffer));
    // Given back: the next body lands in the same memory.
    const second = await readAll(t, `${server.url}/f`);
    expect(second.bytes.equals(data)).toBe(true);
    expect(second.parts.some((p) => firstBlocks.has(p.buffer))).toBe(true);
    // Kept: a later body never overwrites it.
    const kept = await t.get(`${server.url}/f`, {}, new AbortController().signal);
    const keptParts: Uint8Array[] = [];
    await kept.body.read((p) => keptParts.push(p));
    const copy = Buffer.concat(keptParts.map((p) => Buffer.from(p)));
    await readAll(t, `${server.url}/f`, { range: `bytes=0-9999` });
    expect(Buffer.concat(keptParts).equals(copy)).toBe(true);
    kept.body.release(keptParts[0]!);
    kept.body.release(keptParts[0]!); // idempotent
  });

  it('with a lent limit, stops reading while that much is lent, and goes on as parts come back', async () => {
    const data = randomBytes(2048 * KiB);
    const server = await rangeServer(data);
    const t = transport({ readBufferSize: 16 * KiB, blockSize: 64 * KiB });
    const reply = await t.get(`${server.url}/f`, {}, new AbortController().signal);
    const held: Uint8Array[] = [];
    let got = 0;
    let done = false;
    const reading = reply.body.read((p) => (held.push(p), (got += p.byteLength)), { lentLimit: 256 * KiB }).then(() => (done = true));
    await expect.poll(() => got).toBeGreaterThan(256 * KiB);
    await new Promise((r) => setTimeout(r, 100));
    // Held back: at most one read beyond the limit, however long we wait.
    expect(got).toBeLessThanOrEqual(256 * KiB + 16 * KiB);
    expect(done).toBe(false);
    const all: Buffer[] = [];
    const drain = () => {
      for (const p of held.splice(0)) {
        all.push(Buffer.from(p));
        reply.body.release(p);
      }
    };
    while (!done) {
      drain();
      await new Promise((r) => setTimeout(r, 1));
    }
    await reading;
    drain();
    expect(Buffer.concat(all).equals(data)).toBe(true);
  });

  it('decodes a chunked body (odd chunk sizes, extensions, trailers) and keeps the connection', async () => {
    const data = randomBytes(50 * KiB);
    const server = await rangeServer(data, { chunked: true });
    const t = transport({ readBufferSize: 1000 });
    expect((await readAll(t, `${server.url}/f`, { range: 'bytes=10-40009' })).bytes.equals(data.subarray(10, 40_010))).toBe(true);
    expect((await readAll(t, `${server.url}/f`)).bytes.equals(data)).toBe(true);
    expect(server.connections).toBe(1);

    const raw = await rawServer((s) => s.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\nA \r\n0123456789\r\n0\r\nx-t: 1\r\n\r\n'));
    const { bytes } = await readAll(t, `${raw.url}/f`);
    expect(bytes.toString()).toBe('abc0123456789');
  });

  it('a body delimited by the end of the connection is whole when it closes; the connection is not reused', async () => {
    const server = await rawServer((s) => s.end('HTTP/1.1 200 OK\r\n\r\nuntil the end'));
    const t = transport();
    expect((await readAll(t, `${server.url}/a`)).bytes.toString()).toBe('until the end');
    expect((await readAll(t, `${server.url}/b`)).bytes.toString()).toBe('until the end');
    expect(server.connections).toBe(2);
  });

  it('rejects the body when the connection is cut or closes before Content-Length bytes', async () => {
    const server = await rawServer((s, _h, i) => {
      s.write('HTTP/1.1 206 Partial Content\r\ncontent-length: 100000\r\n\r\n');
      s.write(Buffer.alloc(40_000, 1));
      if (i === 0) setTimeout(() => s.resetAndDestroy(), 20);
      else setTimeout(() => s.end(), 20);
    });
    const t = transport();
    for (const url of [`${server.url}/cut`, `${server.url}/short`]) {
      const reply = await t.get(url, {}, new AbortController().signal);
      let got = 0;
      const err = await reply.body.read((p) => (got += p.byteLength)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HttpWireError);
      expect((err as Error).message).toMatch(/before the body was complete/);
      expect(got).toBe(40_000);
    }
  });

  it('bytes beyond Content-Length are not taken as the next response: that connection is dropped', async () => {
    const server = await rawServer((s) => s.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhelloEXTRA'));
    const t = transport();
    expect((await readAll(t, `${server.url}/1`)).bytes.toString()).toBe('hello');
    expect((await readAll(t, `${server.url}/2`)).bytes.toString()).toBe('hello');
    expect(server.connections).toBe(2);
  });

  it('skips interim 1xx responses; rejects malformed heads, oversized heads and bad Content-Length', async () => {
    const answers: Record<string, string> = {
      '/interim': 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok',
      '/garbage': 'SSH-2.0-OpenSSH\r\n\r\n',
      '/big': `HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(5000)}\r\n\r\n`,
      '/length': 'HTTP/1.1 200 OK\r\ncontent-length: 5, 6\r\n\r\nhello',
      '/header': 'HTTP/1.1 200 OK\r\nno colon here\r\n\r\n',
      '/switch': 'HTTP/1.1 101 Switching Protocols\r\n\r\n',
    };
    const server = await rawServer((s, head) => s.write(answers[head.split(' ')[1]!]!));
    const t = transport({ maxHeadBytes: 4096 });
    expect((await readAll(t, `${server.url}/interim`)).bytes.toString()).toBe('ok');
    for (const [path, message] of [
      ['/garbage', /Not an HTTP\/1.x status line/],
      ['/big', /head is longer than 4096 bytes/],
      ['/length', /Invalid Content-Length/],
      ['/header', /Malformed response header line/],
      ['/switch', /switched protocols/],
    ] as const) {
      await expect(t.get(`${server.url}${path}`, {}, new AbortController().signal), path).rejects.toThrow(message);
    }
  });

  it('a keep-alive connection the server closed while idle is replaced without failing the request', async () => {
    const server = await rawServer((s) => {
      s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      // Like a server's keep-alive timeout, right after the answer.
      s.end();
    });
    const t = transport();
    expect((await readAll(t, `${server.url}/1`)).bytes.toString()).toBe('ok');
    // The server has closed its side: wait until the connection is gone, not for a while.
    await expect.poll(() => server.sockets.size).toBe(0);
    expect((await readAll(t, `${server.url}/2`)).bytes.toString()).toBe('ok');
    expect(server.connections).toBe(2);
  });

  it('a reused keep-alive connection that closes before any byte of the answer (stale) is retried on a new one', async () => {
    // The race a keep-alive timeout makes: the client reuses the idle connection as the server
    // closes it. Made deterministic: the first connection answers its first request, then closes
    // on receiving the next one without a byte of answer. Every other request is answered.
    const answered = new WeakMap<Socket, number>();
    const server = await rawServer((s) => {
      const n = answered.get(s) ?? 0;
      answered.set(s, n + 1);
      if (n === 1 && server.connections === 1) s.destroy();
      else s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
    const t = transport();
    expect((await readAll(t, `${server.url}/1`)).bytes.toString()).toBe('ok');
    // The GET went out on the reused connection (3 request heads in all), met the close and was
    // sent again on a second connection, without the caller seeing a failure.
    expect((await readAll(t, `${server.url}/2`)).bytes.toString()).toBe('ok');
    expect(server.requests.map((h) => h.split(' ')[1])).toEqual(['/1', '/2', '/2']);
    expect(server.connections).toBe(2);
  });

  it('a reused connection that closes after part of the answer is not retried: the request fails', async () => {
    // Only a failure before any byte is stale; once the server answered, sending again could be wrong.
    const server = await rawServer((s, _head, index) => {
      if (index === 0) s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      else s.end('HTTP/1.1 200 OK\r\ncontent-len');
    });
    const t = transport();
    expect((await readAll(t, `${server.url}/1`)).bytes.toString()).toBe('ok');
    const err = await t.get(`${server.url}/2`, {}, new AbortController().signal).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpWireError);
    expect((err as HttpWireError).stale).toBe(false);
    expect(server.requests).toHaveLength(2);
    expect(server.connections).toBe(1);
  });

  it('aborting drops the connection, before the head and during the body, and rejects with the reason', async () => {
    const server = await rawServer((s, head) => {
      if (head.includes('/body')) s.write('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nsome');
    });
    const t = transport();
    const early = new AbortController();
    const pending = t.get(`${server.url}/head`, {}, early.signal);
    await expect.poll(() => server.requests.length).toBe(1);
    early.abort(new Error('stop 1'));
    await expect(pending).rejects.toThrow('stop 1');

    const late = new AbortController();
    const reply = await t.get(`${server.url}/body`, {}, late.signal);
    const reading = reply.body.read(() => {});
    late.abort(new Error('stop 2'));
    await expect(reading).rejects.toThrow('stop 2');
    await expect.poll(() => server.sockets.size).toBe(0);
  });

  it('a part callback that throws stops the body with that error; header injection is refused', async () => {
    const data = randomBytes(10 * KiB);
    const server = await rangeServer(data);
    const t = transport({ readBufferSize: 1000 });
    const reply = await t.get(`${server.url}/f`, {}, new AbortController().signal);
    await expect(
      reply.body.read(() => {
        throw new Error('no more');
      }),
    ).rejects.toThrow('no more');
    await expect(t.get(`${server.url}/f`, { 'x-a': 'b\r\nx-injected: 1' }, new AbortController().signal)).rejects.toThrow(TypeError);
    await expect(t.get(`${server.url}/f`, { 'bad name': 'b' }, new AbortController().signal)).rejects.toThrow(TypeError);
    expect((await readAll(t, `${server.url}/f`)).bytes.equals(data)).toBe(true);
  });

  it('a refused connection rejects with ECONNREFUSED along its cause chain', async () => {
    const t = transport();
    const err = await t.get(`http://127.0.0.1:${await closedPort()}/f`, {}, new AbortController().signal).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpWireError);
    expect(transportErrorCode(err)).toBe('ECONNREFUSED');
  });
});

describe('RangeTransport through undici', () => {
  it('answers ranges byte-exact over one keep-alive connection, with the headers asked for and URL credentials', async () => {
    const data = randomBytes(300 * KiB);
    const server = await rangeServer(data);
    const t = undiciTransport();
    for (const [start, end] of [
      [0, 100 * KiB],
      [100 * KiB, 300 * KiB],
      [5, 6],
    ] as const) {
      const { reply, bytes } = await readAll(t, `${server.url}/f?x=1`, { range: `bytes=${start}-${end - 1}`, authorization: 'Bearer t' });
      expect(reply.response.status).toBe(206);
      expect(reply.response.headers.get('content-range')).toBe(`bytes ${start}-${end - 1}/${data.length}`);
      expect(reply.response.url).toBe(`${server.url}/f?x=1`);
      expect(reply.response.redirected).toBe(false);
      expect(bytes.equals(data.subarray(start, end))).toBe(true);
    }
    const withUser = new URL(server.url);
    withUser.username = 'us%20er';
    withUser.password = 'p:w';
    await readAll(t, `${withUser.href}f`, { range: 'bytes=0-0' });
    expect(server.requests.at(-1)).toContain(`"authorization":"Basic ${Buffer.from('us er:p:w').toString('base64')}"`);
    expect(server.requests[0]).toContain('GET /f?x=1');
    expect(server.requests[0]).toContain('"authorization":"Bearer t"');
    // Kept alive (undici may open a second connection while it checks an idle one before reuse).
    expect(server.connections).toBeLessThan(4);
  });

  it('hands parts over in pooled shared blocks, reused once given back and never while lent', async () => {
    const data = randomBytes(64 * KiB);
    const server = await rangeServer(data);
    const t = undiciTransport({ blockSize: 10_000, maxFreeBlocks: 4 });
    const first = await readAll(t, `${server.url}/f`);
    expect(first.bytes.equals(data)).toBe(true);
    expect(first.parts.every((p) => p.byteLength <= 10_000 && p.buffer instanceof SharedArrayBuffer)).toBe(true);
    const firstBlocks = new Set(first.parts.map((p) => p.buffer));
    const second = await readAll(t, `${server.url}/f`);
    expect(second.bytes.equals(data)).toBe(true);
    expect(second.parts.some((p) => firstBlocks.has(p.buffer))).toBe(true);
    const kept = await t.get(`${server.url}/f`, {}, new AbortController().signal);
    const keptParts: Uint8Array[] = [];
    await kept.body.read((p) => keptParts.push(p));
    const copy = Buffer.concat(keptParts.map((p) => Buffer.from(p)));
    await readAll(t, `${server.url}/f`, { range: `bytes=0-9999` });
    expect(Buffer.concat(keptParts).equals(copy)).toBe(true);
  });

  it('with a lent limit, stops reading while that much is lent, and goes on as parts come back', async () => {
    const data = randomBytes(2048 * KiB);
    const server = await rangeServer(data);
    const t = undiciTransport({ blockSize: 64 * KiB });
    const reply = await t.get(`${server.url}/f`, {}, new AbortController().signal);
    const held: Uint8Array[] = [];
    let got = 0;
    let done = false;
    const reading = reply.body.read((p) => (held.push(p), (got += p.byteLength)), { lentLimit: 256 * KiB }).then(() => (done = true));
    await expect.poll(() => got).toBeGreaterThan(256 * KiB);
    await new Promise((r) => setTimeout(r, 100));
    // Held back: what one read from the socket brings beyond the limit at most, however long we wait.
    expect(got).toBeLessThanOrEqual(256 * KiB + 128 * KiB);
    expect(done).toBe(false);
    const all: Buffer[] = [];
    const drain = () => {
      for (const p of held.splice(0)) {
        all.push(Buffer.from(p));
        reply.body.release(p);
      }
    };
    while (!done) {
      drain();
      await new Promise((r) => setTimeout(r, 1));
    }
    await reading;
    drain();
    expect(Buffer.concat(all).equals(data)).toBe(true);
  });

  it('decodes a chunked body and one delimited by the end of the connection', async () => {
    const data = randomBytes(50 * KiB);
    const server = await rangeServer(data, { chunked: true });
    const t = undiciTransport();
    expect((await readAll(t, `${server.url}/f`, { range: 'bytes=10-40009' })).bytes.equals(data.subarray(10, 40_010))).toBe(true);
    const raw = await rawServer((s) => s.end('HTTP/1.1 200 OK\r\n\r\nuntil the end'));
    expect((await readAll(t, `${raw.url}/a`)).bytes.toString()).toBe('until the end');
  });

  it('a body cut short rejects with the wire error along its cause chain', async () => {
    const server = await rawServer((s) => {
      s.write('HTTP/1.1 206 Partial Content\r\ncontent-length: 100000\r\n\r\n');
      s.write(Buffer.alloc(40_000, 1), () => s.resetAndDestroy());
    });
    const t = undiciTransport();
    const reply = await t.get(`${server.url}/cut`, {}, new AbortController().signal);
    let got = 0;
    const err = await reply.body.read((p) => (got += p.byteLength)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(transportErrorCode(err)).toMatch(/^(?:UND_ERR_SOCKET|ECONNRESET)$/);
    expect(got).toBeLessThanOrEqual(40_000);
  });

  it('a server that closes keep-alive connections once idle: the next range goes out on a new one and succeeds', async () => {
    const server = await rawServer((s) => {
      s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      s.end();
    });
    const t = undiciTransport();
    expect((await readAll(t, `${server.url}/1`)).bytes.toString()).toBe('ok');
    await expect.poll(() => server.sockets.size).toBe(0);
    expect((await readAll(t, `${server.url}/2`)).bytes.toString()).toBe('ok');
    expect(server.connections).toBe(2);
    expect(server.requests.map((h) => h.split(' ')[1])).toEqual(['/1', '/2']);
  });

  it('aborting drops the connection, before the head and during the body, and rejects with the reason', async () => {
    const carried = new Map<string, Socket>();
    const server = await rawServer((s, head) => {
      carried.set(head.split(' ')[1]!, s);
      if (head.includes('/body')) s.write('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nsome');
    });
    const t = undiciTransport();
    const early = new AbortController();
    const pending = t.get(`${server.url}/head`, {}, early.signal);
    await expect.poll(() => server.requests.length).toBe(1);
    early.abort(new Error('stop 1'));
    await expect(pending).rejects.toThrow('stop 1');

    const late = new AbortController();
    const reply = await t.get(`${server.url}/body`, {}, late.signal);
    const reading = reply.body.read(() => {});
    late.abort(new Error('stop 2'));
    await expect(reading).rejects.toThrow('stop 2');
    // The connections that carried them are closed (undici may open a fresh one meanwhile).
    await expect.poll(() => server.sockets.has(carried.get('/head')!) || server.sockets.has(carried.get('/body')!)).toBe(false);
  });

  it('a part callback that throws stops the body with that error; header injection is refused', async () => {
    const data = randomBytes(10 * KiB);
    const server = await rangeServer(data);
    const t = undiciTransport();
    const reply = await t.get(`${server.url}/f`, {}, new AbortController().signal);
    await expect(
      reply.body.read(() => {
        throw new Error('no more');
      }),
    ).rejects.toThrow('no more');
    await expect(t.get(`${server.url}/f`, { 'x-a': 'b\r\nx-injected: 1' }, new AbortController().signal)).rejects.toThrow();
    expect((await readAll(t, `${server.url}/f`)).bytes.equals(data)).toBe(true);
    expect(server.requests.some((r) => r.includes('x-injected'))).toBe(false);
  });
});

describe('RangeTransport: what goes which way', () => {
  it('a redirect met on the fast path is followed through undici (Authorization kept to its origin); that URL then goes to undici at once', async () => {
    const data = randomBytes(20 * KiB);
    const target = await rangeServer(data);
    const hops: string[] = [];
    const redirecting = createHttpServer((req, res) => {
      hops.push(`${req.url} ${req.headers.authorization ?? '-'}`);
      if (req.url === '/moved') res.writeHead(302, { location: '/here' }).end();
      else res.writeHead(307, { location: `${target.url}/f` }).end();
    });
    const origin = await listen(redirecting);
    const t = transport();
    const headers = { range: 'bytes=0-99', authorization: 'Bearer secret' };
    for (let i = 0; i < 2; i++) {
      const { reply, bytes } = await readAll(t, `${origin.url}/moved`, headers);
      expect(reply.response.status).toBe(206);
      expect(reply.response.url).toBe(`${target.url}/f`);
      expect(reply.response.redirected).toBe(true);
      expect(bytes.equals(data.subarray(0, 100))).toBe(true);
    }
    // First GET: the fast path met the 302, undici followed both hops; second GET: undici only.
    expect(hops).toEqual(['/moved Bearer secret', '/moved Bearer secret', '/here Bearer secret', '/moved Bearer secret', '/here Bearer secret']);
    // Another origin: no credentials.
    expect(target.requests.every((r) => !r.includes('authorization'))).toBe(true);
  });

  it('too many redirects, or a loop, reject with ERR_TOO_MANY_REDIRECTS', async () => {
    const looping = createHttpServer((req, res) => {
      const n = Number(req.url!.slice(1));
      res.writeHead(302, { location: req.url === '/loop' ? '/loop' : `/${n + 1}` }).end();
    });
    const server = await listen(looping);
    const t = transport();
    for (const path of ['/0', '/loop']) {
      const err = await t.get(`${server.url}${path}`, {}, new AbortController().signal).catch((e: unknown) => e);
      expect(transportErrorCode(err), path).toBe('ERR_TOO_MANY_REDIRECTS');
      expect((err as Error).message).toMatch(path === '/loop' ? /Redirect loop/ : /Too many redirects: stopped after 10/);
    }
  });

  it('with HTTP_PROXY set, range GETs go through the proxy; NO_PROXY names hosts that do not', async () => {
    const data = randomBytes(8 * KiB);
    const server = await rangeServer(data);
    const proxy = await startForwardProxy();
    cleanups.push(() => proxy.close());
    vi.stubEnv('HTTP_PROXY', proxy.url);
    // Made after the environment is set, as the process's own is on first use.
    const dispatcher = createHttpDispatcher();
    cleanups.push(() => dispatcher.destroy());
    const t = transport({ dispatcher });
    expect((await readAll(t, `${server.url}/via-proxy`, { range: 'bytes=0-99' })).bytes.equals(data.subarray(0, 100))).toBe(true);
    expect(proxy.requests).toEqual([`GET ${server.url}/via-proxy`]);
    vi.stubEnv('NO_PROXY', '127.0.0.1');
    expect((await readAll(t, `${server.url}/direct`)).bytes.equals(data)).toBe(true);
    expect(proxy.requests).toHaveLength(1);
    expect(server.requests.map((r) => r.split(' ')[1])).toEqual(['/via-proxy', '/direct']);
  });

  it('https: through undici, trusting the CA it is given; an unknown CA is a TLS error along the cause chain', async () => {
    const missing = await opensslMissing();
    if (missing) {
      if (process.env.CI === 'true') throw new Error(missing);
      console.warn(`skipped: ${missing}`);
      return;
    }
    const ca = await makeTestCa();
    cleanups.push(() => ca.cleanup());
    const data = randomBytes(100 * KiB);
    const server = createHttpsServer({ cert: ca.cert, key: ca.key }, (req, res) => {
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
      const [start, end] = m ? [Number(m[1]), Number(m[2]) + 1] : [0, data.length];
      res.writeHead(m ? 206 : 200, { 'content-length': String(end - start) }).end(data.subarray(start, end));
    });
    const state = await listen(server);
    const url = state.url.replace('http:', 'https:');
    const t = undiciTransport({ fastPath: true }, { tls: { ca: ca.ca } });
    expect((await readAll(t, `${url}/f`, { range: 'bytes=100-50099' })).bytes.equals(data.subarray(100, 50_100))).toBe(true);
    const untrusting = undiciTransport({ fastPath: true });
    const err = await untrusting.get(`${url}/f`, {}, new AbortController().signal).catch((e: unknown) => e);
    expect(transportErrorCode(err)).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });
});

describe('Exchange over the RangeTransport', () => {
  const deps = (ranges: RangeTransport, idleTimeoutMs = 30_000) => ({
    fetch: () => Promise.reject(new Error('fetch must not be used for direct GETs')),
    ranges,
    clock: systemClock,
    headers: { 'x-common': '1' },
    idleTimeoutMs,
  });

  it('reads an exact body as lent parts; a short or long body is an error of the right kind', async () => {
    const server = await rawServer((s, head) => {
      const path = head.split(' ')[1]!;
      const length = path === '/short' ? 6 : path === '/long' ? 12 : 10;
      s.write(`HTTP/1.1 206 Partial Content\r\ncontent-length: ${length}\r\n\r\n${'x'.repeat(length)}`);
    });
    const t = transport();
    const signal = new AbortController().signal;
    const ok = await Exchange.open(deps(t), 'GET', `${server.url}/ok`, { range: 'bytes=0-9' }, signal, true);
    const parts = await ok.readExact(10);
    expect(Buffer.concat(parts).toString()).toBe('x'.repeat(10));
    for (const p of parts) ok.release(p);
    ok.close();
    expect(server.requests[0]).toMatch(/accept-encoding: identity/);
    expect(server.requests[0]).toMatch(/x-common: 1/);

    const short = await Exchange.open(deps(t), 'GET', `${server.url}/short`, {}, signal, true);
    await expect(short.readExact(10)).rejects.toThrow(NetworkError);
    short.close();
    const long = await Exchange.open(deps(t), 'GET', `${server.url}/long`, {}, signal, true);
    const err = await long.readExact(10).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect(err).toMatchObject({ reason: 'protocol' });
    long.close();
    // An error document is still readable as text.
    const text = await Exchange.open(deps(t), 'GET', `${server.url}/ok`, {}, signal, true);
    expect(await text.text()).toBe('x'.repeat(10));
    text.close();
  });

  it('a connection that goes silent mid-body is dropped after idleTimeoutMs as a timeout', async () => {
    const server = await rawServer((s) => s.write('HTTP/1.1 206 Partial Content\r\ncontent-length: 100\r\n\r\nfirst'));
    const t = transport();
    const ex = await Exchange.open(deps(t, 200), 'GET', `${server.url}/silent`, {}, new AbortController().signal, true);
    const started = Date.now();
    const err = await ex.readExact(100).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect(err).toMatchObject({ timeout: true });
    expect(Date.now() - started).toBeLessThan(5_000);
    ex.close();
    await expect.poll(() => server.sockets.size).toBe(0);
  });

  it('is used only for direct GETs: the manifest and HEAD still go through fetch', async () => {
    const data = randomBytes(1000);
    const server = await rangeServer(data);
    const t = transport();
    const fetched: string[] = [];
    const d = { ...deps(t), fetch: async (url: string, init: RequestInit) => (fetched.push(`${init.method} ${url}`), new Response('{}', { status: 200 })) };
    const signal = new AbortController().signal;
    (await Exchange.open(d, 'GET', `${server.url}/manifest`, {}, signal)).close();
    (await Exchange.open(d, 'HEAD', `${server.url}/f`, {}, signal, true)).close();
    const direct = await Exchange.open(d, 'GET', `${server.url}/f`, {}, signal, true);
    expect(Buffer.concat(await direct.readExact(1000)).equals(data)).toBe(true);
    direct.close();
    expect(fetched).toEqual([`GET ${server.url}/manifest`, `HEAD ${server.url}/f`]);
    expect(server.requests).toHaveLength(1);
  });
});
