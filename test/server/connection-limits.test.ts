// Connections and slow bodies: the connection caps, idle keep-alive and silent connections closed
// within their (short, configured) timeouts, and a trickling body answered 408 by the minimum body
// rate while the request time limit is far away.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MediaTypes, Paths } from '../../src/protocol/index.js';
import { waitFor } from '../chaos/support/wait.js';
import { sha256Field } from '../helpers/digest.js';
import { create, putChunk } from '../helpers/http.js';
import { KiB, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.dispose();
  server = undefined;
});

interface Raw {
  socket: net.Socket;
  /** Everything the server sent, once it closed the connection. */
  closed: Promise<string>;
  /** Resolves with the first whole response (head and content-length body) on the connection. */
  response(): Promise<string>;
}

/** A raw TCP connection to the server, recording what it sends. */
function connect(port: number): Raw {
  const socket = net.connect(port, '127.0.0.1');
  let text = '';
  let onData: (() => void) | null = null;
  socket.setEncoding('latin1').on('data', (d: string) => {
    text += d;
    onData?.();
  });
  socket.on('error', () => {});
  const closed = new Promise<string>((resolve) => socket.once('close', () => resolve(text)));
  const response = () =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const end = text.indexOf('\r\n\r\n');
        const length = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? 0);
        if (end >= 0 && text.length >= end + 4 + length) {
          onData = null;
          resolve(text);
          text = '';
        }
      };
      onData = check;
      socket.once('close', () => reject(new Error(`closed before a whole response: ${JSON.stringify(text)}`)));
      check();
    });
  return { socket, closed, response };
}

const healthz = 'GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n';

/** Opens a connection and has one request answered on it, so the server has certainly accepted it. */
async function served(port: number): Promise<Raw> {
  const raw = connect(port);
  raw.socket.write(healthz);
  expect(await raw.response()).toMatch(/^HTTP\/1\.1 200 /);
  return raw;
}

function statusOf(text: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
}

function problemOf(text: string): { type: string; status: number } {
  expect(text).toMatch(new RegExp(`content-type: ${MediaTypes.problem.replace('+', '\\+')}`, 'i'));
  return JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
}

function waitUntil(what: string, check: () => boolean | Promise<boolean>): Promise<unknown> {
  return waitFor(what, check, { timeoutMs: 10_000 });
}

describe('connection caps', () => {
  it('closes a connection past --max-connections at accept, and accepts again once one has gone', async () => {
    server = await startTestServer({ maxConnections: 3, maxConnectionsPerAddress: 0, keepAliveTimeoutSeconds: 60 });
    const held = [await served(server.port), await served(server.port), await served(server.port)];
    const extra = connect(server.port);
    extra.socket.write(healthz);
    // Closed without a byte of an answer: the request was never read.
    expect(await extra.closed).toBe('');
    // The others are still served.
    held[0]!.socket.write(healthz);
    expect(statusOf(await held[0]!.response())).toBe(200);

    held[1]!.socket.destroy();
    await waitUntil('the server to count the closed connection', () => new Promise<boolean>((r) => server!.server.getConnections((_, n) => r(n === 2))));
    const next = await served(server.port);
    next.socket.destroy();
    for (const raw of held) raw.socket.destroy();
  });

  it('closes a connection past --max-connections-per-address at accept', async () => {
    server = await startTestServer({ maxConnections: 100, maxConnectionsPerAddress: 2, keepAliveTimeoutSeconds: 60 });
    const held = [await served(server.port), await served(server.port)];
    const extra = connect(server.port);
    extra.socket.write(healthz);
    expect(await extra.closed).toBe('');
    expect(server.ctx.metrics.get('ferry_limits_hit_total', { kind: 'connections-per-address' })).toBe(1);

    held[0]!.socket.destroy();
    await waitUntil('a new connection from the address to be served', async () => {
      const raw = connect(server!.port);
      raw.socket.write(healthz);
      const ok = await raw.response().then(
        () => true,
        () => false,
      );
      raw.socket.destroy();
      return ok;
    });
    held[1]!.socket.destroy();
  });
});

describe('idle connections', () => {
  it('closes a keep-alive connection idle for --keep-alive-timeout', async () => {
    server = await startTestServer({ keepAliveTimeoutSeconds: 0.2, idleTimeoutSeconds: 600 });
    const raw = await served(server.port);
    // The answer kept the connection open (no "connection: close")...
    // ...and the server closes it once it has been idle for the keep-alive timeout.
    expect(await raw.closed).toBe('');
  });

  it('closes a connection that never sends a request after --headers-timeout, with a 408 problem', async () => {
    server = await startTestServer({ headersTimeoutSeconds: 0.3, idleTimeoutSeconds: 600 });
    const raw = connect(server.port);
    const text = await raw.closed;
    expect(statusOf(text)).toBe(408);
    expect(problemOf(text).type).toBe('urn:ferry:problem:request-timeout');
  });
});

describe('minimum body rate', () => {
  // The request time limit is far away: only the body-rate rule can end these requests.
  const slowRules = { minBodyRate: 1 * KiB, minBodyRateWindowSeconds: 0.3, requestTimeoutSeconds: 600, idleTimeoutSeconds: 600 };

  it('answers a chunk body trickling below the rate with 408 and closes the connection; the chunk is not held', async () => {
    server = await startTestServer(slowRules);
    const chunk = Buffer.alloc(64 * KiB, 7);
    const { uploadId } = (await create(server.url, { name: 'slow.bin', size: chunk.length, chunkSize: chunk.length })).body;
    const raw = connect(server.port);
    raw.socket.write(
      `PUT ${Paths.chunk(uploadId, 0)} HTTP/1.1\r\nhost: test\r\ncontent-digest: ${sha256Field(chunk)}\r\ncontent-length: ${chunk.length}\r\n\r\n`,
    );
    raw.socket.write(chunk.subarray(0, 1));
    const text = await raw.closed;
    expect(statusOf(text)).toBe(408);
    expect(problemOf(text)).toMatchObject({ type: 'urn:ferry:problem:request-timeout', status: 408 });
    expect(text).toMatch(/connection: close/i);
    expect(server.ctx.metrics.get('ferry_limits_hit_total', { kind: 'body-rate' })).toBe(1);
    // Its lock is gone with it: the chunk sent properly is stored at once.
    await waitUntil('the chunk lock to be released', () => server!.ctx.chunkWrites.size === 0);
    expect((await putChunk(server.url, uploadId, 0, chunk)).status).toBe(201);
  });

  it('answers a JSON body trickling below the rate with 408 too', async () => {
    server = await startTestServer(slowRules);
    const raw = connect(server.port);
    raw.socket.write(`POST ${Paths.uploads} HTTP/1.1\r\nhost: test\r\ncontent-type: ${MediaTypes.json}\r\ncontent-length: 100\r\n\r\n{`);
    const text = await raw.closed;
    expect(statusOf(text)).toBe(408);
    expect(problemOf(text).type).toBe('urn:ferry:problem:request-timeout');
  });

  it('leaves bodies that arrive at speed alone, however short the window', async () => {
    server = await startTestServer({ ...slowRules, minBodyRateWindowSeconds: 0.25 });
    const chunk = Buffer.alloc(4 * 1024 * KiB, 3);
    const { uploadId } = (await create(server.url, { name: 'fast.bin', size: chunk.length * 2, chunkSize: chunk.length })).body;
    expect((await putChunk(server.url, uploadId, 0, chunk)).status).toBe(201);
    expect((await putChunk(server.url, uploadId, 1, chunk)).status).toBe(201);
    expect(server.ctx.metrics.get('ferry_limits_hit_total', { kind: 'body-rate' })).toBe(0);
  });

  it('is off with --min-body-rate 0', async () => {
    server = await startTestServer({ ...slowRules, minBodyRate: 0, requestTimeoutSeconds: 1 });
    const raw = connect(server.port);
    raw.socket.write(`POST ${Paths.uploads} HTTP/1.1\r\nhost: test\r\ncontent-type: ${MediaTypes.json}\r\ncontent-length: 100\r\n\r\n{`);
    // Only the request time limit (1 s here) ends it.
    const text = await raw.closed;
    expect(statusOf(text)).toBe(408);
    expect(server.ctx.metrics.get('ferry_limits_hit_total', { kind: 'body-rate' })).toBe(0);
  });
});
