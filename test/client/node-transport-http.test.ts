// The Node client's fetch-compatible Transport (src/client/node/http-transport.ts, on undici) against
// real loopback servers: bodies both ways, redirects (followed for GET and HEAD only, Authorization
// kept to its origin, a limit, loops), proxies, TLS, and failures that keep the system error's code
// along the cause chain.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpDispatcher, type HttpDispatcherOptions } from '../../src/client/node/http-dispatcher.js';
import { findNetworkFailure } from '../../src/client/engine/network-failure.js';

/** The system or library code the engine's classifier finds in a transport's error. */
const transportErrorCode = (e: unknown) => findNetworkFailure(e).code;
import { createNodeTransport } from '../../src/client/node/http-transport.js';
import { startForwardProxy } from '../helpers/forward-proxy.js';
import { closedPort } from '../helpers/ports.js';
import { MiB } from '../helpers/server.js';
import { makeTestCa, opensslMissing, type TestCa } from '../helpers/tls-ca.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A transport on a dispatcher of its own; no proxy unless asked (whatever the environment says). */
function transport(o: HttpDispatcherOptions = {}) {
  const dispatcher = createHttpDispatcher({ httpProxy: '', httpsProxy: '', noProxy: '', ...o });
  cleanups.push(() => dispatcher.destroy());
  return createNodeTransport({ dispatcher });
}

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  body: Buffer;
}

async function serve(handler: (req: IncomingMessage, body: Buffer, res: Parameters<RequestListener>[1]) => void, server: Server = createServer(), host = '127.0.0.1') {
  const seen: Seen[] = [];
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => (sockets.add(s), s.on('close', () => sockets.delete(s))));
  server.on('secureConnection', (s: Socket) => (sockets.add(s), s.on('close', () => sockets.delete(s))));
  server.on('request', (req: IncomingMessage, res) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      seen.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization, body });
      handler(req, body, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  const { port } = server.address() as { port: number };
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return { origin: `http://${host}:${port}`, port, seen };
}

async function testCa(): Promise<TestCa | null> {
  const missing = await opensslMissing();
  if (missing) {
    if (process.env.CI === 'true') throw new Error(missing);
    console.warn(`skipped: ${missing}`);
    return null;
  }
  const ca = await makeTestCa();
  cleanups.push(() => ca.cleanup());
  return ca;
}

describe('Node transport (undici)', () => {
  it('sends a byte body as it is and streams the answer; HEAD and 204 answers have no body', async () => {
    const server = await serve((req, body, res) => {
      if (req.url === '/empty') res.writeHead(204).end();
      else res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-got': String(body.length) }).end(body);
    });
    const fetch = transport();
    const bytes = randomBytes(3 * MiB);
    // A view into a larger buffer: exactly its bytes go out.
    const backing = Buffer.concat([Buffer.from('head'), bytes, Buffer.from('tail')]);
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 4, bytes.length);
    const res = await fetch(`${server.origin}/echo`, { method: 'PATCH', headers: { 'content-type': 'application/octet-stream' }, body: view });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-got')).toBe(String(bytes.length));
    expect(res.url).toBe(`${server.origin}/echo`);
    expect(res.redirected).toBe(false);
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    expect(server.seen[0]!.body.equals(bytes)).toBe(true);

    const head = await fetch(`${server.origin}/echo`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBeNull();
    const empty = await fetch(`${server.origin}/empty`, { method: 'POST', body: 'x' });
    expect(empty.status).toBe(204);
    expect(empty.body).toBeNull();
    expect(await (await fetch(`${server.origin}/text`, { method: 'POST', body: 'héllo' })).text()).toBe('héllo');
  });

  it('a slow reader still gets every byte of a large answer, in order', async () => {
    const data = randomBytes(8 * MiB);
    const server = await serve((_req, _body, res) => res.writeHead(200).end(data));
    const res = await transport()(`${server.origin}/big`, { method: 'GET' });
    const reader = res.body!.getReader();
    const parts: Uint8Array[] = [];
    for (;;) {
      const step = await reader.read();
      if (step.done) break;
      parts.push(step.value);
      // Slower than loopback: the transport has to hold the connection back.
      if (parts.length % 16 === 0) await new Promise((r) => setImmediate(r));
    }
    expect(Buffer.concat(parts).equals(data)).toBe(true);
  });

  it('follows redirects for GET and HEAD across origins, telling the final URL; Authorization stays with its origin', async () => {
    const target = await serve((_req, _body, res) => res.writeHead(200, { etag: '"final"' }).end('the file'));
    const first = await serve((req, _body, res) => {
      if (req.url === '/start') res.writeHead(301, { location: '/next?a=1' }).end();
      else res.writeHead(302, { location: `${target.origin}/file` }).end();
    });
    const fetch = transport();
    const res = await fetch(`${first.origin}/start`, { method: 'GET', headers: { authorization: 'Bearer secret' } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('the file');
    expect(res.url).toBe(`${target.origin}/file`);
    expect(res.redirected).toBe(true);
    expect(res.headers.get('etag')).toBe('"final"');
    expect(first.seen.map((s) => `${s.url} ${s.authorization}`)).toEqual(['/start Bearer secret', '/next?a=1 Bearer secret']);
    expect(target.seen.map((s) => `${s.url} ${s.authorization}`)).toEqual(['/file undefined']);

    const head = await fetch(`${first.origin}/start`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.url).toBe(`${target.origin}/file`);
    expect(target.seen.at(-1)!.method).toBe('HEAD');
  });

  it('does not follow redirects for other methods: the 3xx comes back as it is', async () => {
    const server = await serve((_req, _body, res) => res.writeHead(307, { location: '/elsewhere' }).end());
    const fetch = transport();
    for (const method of ['POST', 'PATCH', 'PUT', 'DELETE']) {
      const res = await fetch(`${server.origin}/upload`, { method, body: method === 'DELETE' ? undefined : new Uint8Array(10) });
      expect(res.status, method).toBe(307);
      expect(res.headers.get('location')).toBe('/elsewhere');
      await res.arrayBuffer();
    }
    expect(server.seen.map((s) => s.url)).toEqual(['/upload', '/upload', '/upload', '/upload']);
  });

  it('too many redirects and a loop reject with ERR_TOO_MANY_REDIRECTS and say which', async () => {
    const server = await serve((req, _body, res) => {
      const n = Number(req.url!.slice(1));
      res.writeHead(302, { location: req.url === '/loop' ? '/loop' : `/${n + 1}` }).end();
    });
    const fetch = transport();
    const many = await fetch(`${server.origin}/0`, { method: 'GET' }).catch((e: unknown) => e);
    expect(transportErrorCode(many)).toBe('ERR_TOO_MANY_REDIRECTS');
    expect((many as Error).message).toBe(`Too many redirects: stopped after 10, at ${server.origin}/10 (pointing to /11)`);
    const loop = await fetch(`${server.origin}/loop`, { method: 'GET' }).catch((e: unknown) => e);
    expect(transportErrorCode(loop)).toBe('ERR_TOO_MANY_REDIRECTS');
    expect((loop as Error).message).toMatch(/^Redirect loop: /);
    // Fewer hops is fine: a limit of 3 stops at the 4th.
    const short = await transport({ maxRedirects: 3 })(`${server.origin}/0`, { method: 'GET' }).catch((e: unknown) => e);
    expect((short as Error).message).toMatch(/stopped after 3/);
  });

  it('failures keep the code of what failed along the cause chain; an abort rejects with its reason, also mid-body', async () => {
    const fetch = transport();
    const refused = await fetch(`http://127.0.0.1:${await closedPort()}/x`, { method: 'GET' }).catch((e: unknown) => e);
    expect(transportErrorCode(refused)).toBe('ECONNREFUSED');
    expect((refused as Error).message).toMatch(/ECONNREFUSED/);
    const unknown = await fetch('http://no-such-host.invalid/x', { method: 'GET' }).catch((e: unknown) => e);
    expect(transportErrorCode(unknown)).toMatch(/^(?:ENOTFOUND|EAI_AGAIN)$/);
    await expect(fetch('ftp://127.0.0.1/x', { method: 'GET' })).rejects.toThrow(/Unsupported protocol ftp:/);

    const server = await serve((req, _body, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('part');
      if (req.url === '/cut') setImmediate(() => res.socket!.destroy());
    });
    const cut = await fetch(`${server.origin}/cut`, { method: 'GET' });
    const cutErr = await cut.text().catch((e: unknown) => e);
    expect(transportErrorCode(cutErr)).toMatch(/^(?:UND_ERR_SOCKET|ECONNRESET)$/);

    const ctl = new AbortController();
    const res = await fetch(`${server.origin}/hang`, { method: 'GET', signal: ctl.signal });
    const reading = res.text();
    ctl.abort(new Error('stopped by the test'));
    await expect(reading).rejects.toThrow('stopped by the test');
    const before = new AbortController();
    before.abort(new Error('never sent'));
    await expect(fetch(`${server.origin}/x`, { method: 'GET', signal: before.signal })).rejects.toThrow('never sent');
  });

  it('goes through an HTTP proxy (absolute-form for http:, CONNECT for https:) unless NO_PROXY names the host', async () => {
    const ca = await testCa();
    const proxy = await startForwardProxy();
    cleanups.push(() => proxy.close());
    const plain = await serve((_req, body, res) => res.writeHead(200).end(`plain ${body.length}`));
    const fetch = transport({ httpProxy: proxy.url, httpsProxy: proxy.url, ...(ca ? { tls: { ca: ca.ca } } : {}) });
    expect(await (await fetch(`${plain.origin}/a`, { method: 'POST', body: new Uint8Array(5) })).text()).toBe('plain 5');
    expect(proxy.requests).toEqual([`POST ${plain.origin}/a`]);
    if (ca) {
      const secure = await serve((_req, _body, res) => res.writeHead(200).end('secure'), createHttpsServer({ cert: ca.cert, key: ca.key }));
      const url = `https://127.0.0.1:${secure.port}/b`;
      expect(await (await fetch(url, { method: 'GET' })).text()).toBe('secure');
      expect(proxy.requests.at(-1)).toBe(`CONNECT 127.0.0.1:${secure.port}`);
    }
    const bypass = transport({ httpProxy: proxy.url, noProxy: '127.0.0.1' });
    const seen = proxy.requests.length;
    expect(await (await bypass(`${plain.origin}/c`, { method: 'POST', body: 'xy' })).text()).toBe('plain 2');
    expect(proxy.requests).toHaveLength(seen);
    expect(plain.seen.map((s) => s.url)).toEqual(['/a', '/c']);
  });

  it('https: trusts the CA it is given; an unknown one is a TLS error along the cause chain', async () => {
    const ca = await testCa();
    if (!ca) return;
    const secure = await serve((_req, _body, res) => res.writeHead(200).end('secure'), createHttpsServer({ cert: ca.cert, key: ca.key }));
    const url = `https://127.0.0.1:${secure.port}/x`;
    expect(await (await transport({ tls: { ca: ca.ca } })(url, { method: 'GET' })).text()).toBe('secure');
    const refused = await transport()(url, { method: 'GET' }).catch((e: unknown) => e);
    expect(transportErrorCode(refused)).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    // The certificate names 127.0.0.1 and localhost, not this address.
    const other = await serve((_req, _body, res) => res.writeHead(200).end('other'), createHttpsServer({ cert: ca.cert, key: ca.key }), '127.0.0.2');
    const wrongName = await transport({ tls: { ca: ca.ca } })(`https://127.0.0.2:${other.port}/x`, { method: 'GET' }).catch((e: unknown) => e);
    expect(transportErrorCode(wrongName)).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });
});
