// Errors that cannot heal fail at once, as curl does: nothing listening, an unknown host, a URL without
// a scheme, a TLS certificate refused, 401/403/404 on the first request. Against real loopback servers,
// through the Node entries' own transport and through fetch. "At once" is asserted as "no retry event",
// not by timing. A server that has answered and then goes away is still waited for (a restart).
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { download } from '../../src/client/node/download.js';
import { bytesSource, upload, type RetryEvent } from '../../src/client/node/index.js';
import { classifyError, decideRetry, DefaultRetryPolicy, initialRetryState } from '../../src/client/engine/retry.js';
import { NetworkError } from '../../src/client/engine/errors.js';
import type { TransferEvents, TransferHandle } from '../../src/client/engine/transfer.js';
import { findNetworkFailure, networkError } from '../../src/client/engine/network-failure.js';
import { storeFile, tempDir } from '../download/support.js';
import { closedPort } from '../helpers/ports.js';
import { KiB, startTestServer, type TestServer } from '../helpers/server.js';
import { selfSignedCert, type SelfSigned } from './support/self-signed.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Quick backoff, the default outage budget: what is retried is still retried, only sooner. */
const retry = { baseDelayMs: 5, maxDelayMs: 20 };
const transports = [
  ['the Node transport', {}],
  ['fetch', { fetch: globalThis.fetch }],
] as const;

/** What uploads and downloads share: the handle and its progress and retry events. */
type AnyHandle = TransferHandle<TransferEvents, unknown>;

/**
 * The retry events of `handle`. Past `allowed` of them it is aborted: a regression that retries
 * what cannot heal then fails the test in a moment instead of retrying for the outage budget.
 */
function watch(handle: AnyHandle, allowed = 0): RetryEvent[] {
  const retries: RetryEvent[] = [];
  handle.on('retry', (e) => {
    retries.push(e);
    if (retries.length > allowed) void handle.abort();
  });
  return retries;
}

async function uploadTo(server: string, extra: object = {}, allowed = 0) {
  const handle = upload(bytesSource(new Uint8Array(randomBytes(10 * KiB))), { server, retry, resume: false, ...extra });
  const retries = watch(handle, allowed);
  const error = await handle.result.then(() => null, (e: unknown) => e);
  return { error, retries };
}

async function downloadFrom(url: string, extra: object = {}, allowed = 0) {
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  const handle = download(url, join(dir, 'out.bin'), { retry, ...extra });
  const retries = watch(handle, allowed);
  const error = await handle.result.then(() => null, (e: unknown) => e);
  return { error, retries };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise((resolve) => {
        server.close(resolve);
        server.closeAllConnections();
      }),
  );
  return `127.0.0.1:${(server.address() as { port: number }).port}`;
}

describe('failure causes, as platforms wrap them', () => {
  const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });

  it('finds the system code behind fetch, undici and a connection tried on several addresses', () => {
    expect(findNetworkFailure(new TypeError('fetch failed', { cause: refused() })).failure).toBe('connection-refused');
    const aggregate = new AggregateError([refused(), refused()], 'connect failed');
    expect(findNetworkFailure(new TypeError('fetch failed', { cause: aggregate })).failure).toBe('connection-refused');
    const wrapped = new Error('request failed', { cause: new Error('socket', { cause: Object.assign(new Error('getaddrinfo ENOTFOUND x.example'), { code: 'ENOTFOUND' }) }) });
    expect(findNetworkFailure(wrapped).failure).toBe('unknown-host');
    expect(findNetworkFailure(new TypeError('fetch failed', { cause: Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }) }))).toMatchObject({
      failure: 'tls',
      message: 'self-signed certificate',
    });
    expect(findNetworkFailure(new TypeError('fetch failed', { cause: new Error('unknown scheme') })).failure).toBe('unsupported-url');
    expect(findNetworkFailure(new TypeError('fetch failed', { cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }) }))).toMatchObject({
      failure: 'network',
      code: 'ECONNRESET',
    });
  });

  it('says what happened in one line', () => {
    const url = 'http://127.0.0.1:4/x';
    expect(networkError(`GET ${url}`, url, new TypeError('fetch failed', { cause: refused() })).message).toBe('cannot connect to 127.0.0.1:4 (connection refused)');
    const reset = networkError(`GET ${url}`, url, new TypeError('fetch failed', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) }));
    expect(reset).toMatchObject({ code: 'network', message: `GET ${url}: fetch failed (UND_ERR_SOCKET)` });
  });

  it('before the server answered, refused and unknown hosts are hopeless; after, they are an outage; TLS always is', () => {
    const error = (code: string) => new NetworkError('x', { code: code as never });
    for (const code of ['connection-refused', 'unknown-host']) {
      expect(classifyError(error(code), undefined, false)).toMatchObject({ kind: 'unreachable', unreachable: 'hopeless' });
      expect(classifyError(error(code), undefined, true).unreachable).toBeUndefined();
    }
    expect(classifyError(error('tls'), undefined, true)).toMatchObject({ unreachable: 'hopeless' });
    expect(classifyError(error('network'), undefined, false).unreachable).toBeUndefined();
  });

  it('a temporary DNS failure before the server answered gets a few quick tries, not the outage budget', () => {
    const policy = { ...DefaultRetryPolicy, dnsAttempts: 3 };
    const failure = classifyError(new NetworkError('x', { code: 'dns-temporary' }), undefined, false);
    let state = initialRetryState();
    const decisions = [];
    for (let i = 0; i < 3; i++) {
      const d = decideRetry(state, failure, policy, 0, () => 0.5);
      decisions.push(d.retry);
      state = d.state;
    }
    expect(decisions).toEqual([true, true, false]);
  });
});

describe('nothing listening, before any answer', () => {
  for (const [name, transport] of transports) {
    it(`upload (${name}): fails at once, saying it cannot connect`, async () => {
      const port = await closedPort();
      const { error, retries } = await uploadTo(`http://127.0.0.1:${port}`, transport);
      expect(retries).toEqual([]);
      expect(error).toMatchObject({ name: 'UploadError', reason: 'unreachable', code: 'connection-refused', message: `cannot connect to 127.0.0.1:${port} (connection refused)` });
    });

    it(`download (${name}): fails at once, saying it cannot connect`, async () => {
      const port = await closedPort();
      const { error, retries } = await downloadFrom(`http://127.0.0.1:${port}/files/x`, transport);
      expect(retries).toEqual([]);
      expect(error).toMatchObject({ name: 'DownloadError', reason: 'unreachable', code: 'connection-refused', message: `cannot connect to 127.0.0.1:${port} (connection refused)` });
    });
  }
});

describe('an unknown host', () => {
  it('upload and download fail naming the host (a resolver that answers "try again" gets a few quick tries)', async () => {
    const allowed = DefaultRetryPolicy.dnsAttempts - 1;
    for (const run of [() => uploadTo('http://nosuch.invalid', {}, allowed), () => downloadFrom('http://nosuch.invalid/f', {}, allowed)]) {
      const { error, retries } = await run();
      const code = (error as { code?: string }).code;
      expect(['unknown-host', 'dns-temporary']).toContain(code);
      expect(error).toMatchObject({ reason: 'unreachable' });
      expect((error as Error).message).toMatch(/^(unknown host|cannot resolve) nosuch\.invalid/);
      expect(retries.length).toBeLessThan(code === 'unknown-host' ? 1 : DefaultRetryPolicy.dnsAttempts);
    }
  });

  it('EAI_AGAIN as fetch reports it: two quick retries, then one line', async () => {
    const eaiAgain = async () => {
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('getaddrinfo EAI_AGAIN nosuch.example'), { code: 'EAI_AGAIN' }) });
    };
    const { error, retries } = await uploadTo('http://nosuch.example', { fetch: eaiAgain }, DefaultRetryPolicy.dnsAttempts - 1);
    expect(retries).toHaveLength(DefaultRetryPolicy.dnsAttempts - 1);
    expect(error).toMatchObject({ reason: 'unreachable', code: 'dns-temporary', message: 'cannot resolve nosuch.example for now (temporary DNS failure)' });
  });
});

describe('a URL without a scheme, or not http(s)', () => {
  it('is refused before any request, with the likely fix', async () => {
    const calls: string[] = [];
    const fetch = async (url: string) => {
      calls.push(url);
      return new Response('');
    };
    expect((await uploadTo('localhost:8080', { fetch })).error).toMatchObject({
      reason: 'invalid',
      code: 'unsupported-url',
      message: 'URL has no scheme: localhost:8080 — did you mean http://localhost:8080?',
    });
    expect((await downloadFrom('example.com/x', { fetch })).error).toMatchObject({
      reason: 'invalid',
      code: 'unsupported-url',
      message: 'URL has no scheme: example.com/x — did you mean https://example.com/x?',
    });
    expect((await downloadFrom('ftp://example.com/x', { fetch })).error).toMatchObject({ reason: 'invalid', message: expect.stringMatching(/^Only http and https/) });
    expect(calls).toEqual([]);
  });
});

describe('401, 403, 404 on the first request', () => {
  for (const status of [401, 403, 404]) {
    it(`${status}: upload and download stop at once with the status`, async () => {
      const host = await listen(createHttpServer((_req, res) => res.writeHead(status, { 'content-type': 'text/plain' }).end('no')));
      const up = await uploadTo(`http://${host}`);
      expect(up.retries).toEqual([]);
      expect(up.error).toMatchObject({ reason: 'fatal', problem: { status } });
      expect((up.error as Error).message).toContain(`HTTP ${status}`);
      const down = await downloadFrom(`http://${host}/f`);
      expect(down.retries).toEqual([]);
      expect(down.error).toMatchObject({ reason: 'fatal', problem: { status } });
    });
  }
});

describe('TLS', () => {
  let cert: SelfSigned | null = null;
  beforeAll(async () => {
    cert = await selfSignedCert();
  });

  it('a self-signed certificate is refused at once (upload and download, both transports)', async (t) => {
    if (!cert) {
      if (process.env.CI === 'true') throw new Error('openssl is needed to make a self-signed certificate');
      return t.skip('no openssl to make a self-signed certificate');
    }
    const host = await listen(createHttpsServer(cert, (_req, res) => res.end('{}')));
    for (const [, transport] of transports) {
      const up = await uploadTo(`https://${host}`, transport);
      expect(up.retries).toEqual([]);
      expect(up.error).toMatchObject({ reason: 'unreachable', code: 'tls' });
      expect((up.error as Error).message).toMatch(new RegExp(`^TLS: .*self[- ]signed.* \\(https://${host}\\)$`));
      const down = await downloadFrom(`https://${host}/f`, transport);
      expect(down.retries).toEqual([]);
      expect(down.error).toMatchObject({ reason: 'unreachable', code: 'tls' });
    }
  });
});

describe('a server that answered, then went away, is waited for (outage tolerance)', () => {
  const servers: TestServer[] = [];
  afterAll(async () => {
    for (const s of servers) await s.dispose().catch(() => {});
  });

  /** Stops `first` once `progressed` says so, waits for a refused retry, restarts it on its port and data. */
  async function restartAfterRefusal(first: TestServer, handle: AnyHandle, progressed: (chunksDone: number) => boolean) {
    let closing: Promise<void> | null = null;
    handle.on('progress', (p) => {
      if (!closing && progressed(p.chunksDone)) closing = first.close();
    });
    const refusedRetry = new Promise<RetryEvent>((resolve) =>
      handle.on('retry', (e) => {
        if ((e.error as { code?: string }).code === 'connection-refused') resolve(e);
      }),
    );
    // A transfer that gives up (or ends) instead of waiting fails the test here, not by its timeout.
    const ended = handle.result.then(
      () => Promise.reject(new Error('the transfer ended before the server went away')),
      (e: unknown) => Promise.reject(e),
    );
    const event = await Promise.race([refusedRetry, ended]);
    await closing;
    servers.push(await startTestServer({ dataDir: first.dataDir, port: first.port }));
    return event;
  }

  it('upload: refused connections mid-upload are retried until the server is back', async () => {
    const first = await startTestServer();
    servers.push(first);
    const data = new Uint8Array(randomBytes(200 * 4 * KiB));
    const handle = upload(bytesSource(data), { server: first.url, chunkSize: 4 * KiB, concurrency: 1, retry, resume: false });
    const event = await restartAfterRefusal(first, handle, (n) => n >= 3);
    expect(event.kind).toBe('unreachable');
    const result = await handle.result;
    const stored = await fetch(result.fileUrl).then((r) => r.arrayBuffer());
    expect(Buffer.from(stored).equals(Buffer.from(data))).toBe(true);
  });

  it('download: refused connections mid-download are retried until the server is back', async () => {
    const first = await startTestServer();
    servers.push(first);
    const data = randomBytes(200 * 4 * KiB);
    const { fileUrl } = await storeFile(first.url, data, { chunkSize: 4 * KiB });
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const dest = join(dir, 'out.bin');
    const handle = download(fileUrl, dest, { concurrency: 1, retry });
    const event = await restartAfterRefusal(first, handle, (n) => n >= 3);
    expect(event.kind).toBe('unreachable');
    await handle.result;
    expect((await readFile(dest)).equals(data)).toBe(true);
  });
});
