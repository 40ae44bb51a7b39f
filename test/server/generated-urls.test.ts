// Links in responses never carry a Host the server does not know: --public-url decides, a trusted
// proxy's X-Forwarded-Host/-Proto with --trust-proxy, else the Host only when it names this machine.
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Headers, MediaTypes, Paths } from '../../src/protocol/index.js';
import type { ServerConfigInput } from '../../src/server/index.js';
import { sha256Field } from '../helpers/digest.js';
import { call, type Reply } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const servers: TestServer[] = [];
async function start(config: ServerConfigInput = {}): Promise<TestServer> {
  const s = await startTestServer(config);
  servers.push(s);
  return s;
}
afterAll(() => Promise.all(servers.map((s) => s.dispose())));

/**
 * Every kind of response that carries a link, each request sent with `headers`: create (Location and
 * uploadUrl), the completing chunk's ack (fileUrl), status, the listing, the manifest and a share link.
 */
async function everyLink(base: string, headers: Record<string, string>): Promise<{ replies: Reply[]; links: string[] }> {
  const body = Buffer.from('linked');
  const created = await call(base, 'POST', Paths.uploads, {
    headers: { ...headers, 'content-type': MediaTypes.json },
    body: JSON.stringify({ name: 'linked.txt', size: body.length }),
  });
  expect(created.status).toBe(201);
  const uploadId = created.body.uploadId as string;
  const ack = await call(base, 'PUT', Paths.chunk(uploadId, 0), {
    headers: { ...headers, [Headers.contentDigest]: sha256Field(body), 'content-length': body.length },
    body,
  });
  expect(ack.status).toBe(201);
  const fileId = ack.body.fileId as string;
  const st = await call(base, 'GET', Paths.upload(uploadId), { headers });
  const list = await call(base, 'GET', Paths.files, { headers });
  const manifest = await call(base, 'GET', Paths.manifest(fileId), { headers });
  const share = await call(base, 'POST', `${Paths.file(fileId)}/share`, { headers });
  expect(share.status).toBe(201);
  const replies = [created, ack, st, list, manifest, share];
  const listed = list.body.files.find((f: { fileId: string }) => f.fileId === fileId);
  const links = [
    String(created.headers.location),
    created.body.uploadUrl,
    ack.body.fileUrl,
    st.body.uploadUrl,
    st.body.fileUrl,
    listed.fileUrl,
    manifest.body.fileUrl,
    share.body.url,
  ];
  return { replies, links };
}

function expectAllUnder(links: string[], prefix: string) {
  for (const link of links) expect(link.startsWith(`${prefix}/`), `${link} starts with ${prefix}/`).toBe(true);
}

function expectNowhere(replies: Reply[], text: string) {
  for (const r of replies) {
    expect(r.text).not.toContain(text);
    expect(JSON.stringify(r.headers)).not.toContain(text);
  }
}

describe('without --public-url', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await start();
  });

  it('a Host of another name never appears in Location, uploadUrl, fileUrl, the listing, the manifest or a share link', async () => {
    const { replies, links } = await everyLink(server.url, { host: 'evil.example' });
    expectNowhere(replies, 'evil.example');
    expectAllUnder(links, server.url);
  });

  it('nor with a port, an IP address that is not this machine, or X-Forwarded-Host from an untrusted client', async () => {
    const cases: Array<Record<string, string>> = [{ host: 'evil.example:8080' }, { host: '203.0.113.7' }, { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' }];
    for (const headers of cases) {
      const { replies, links } = await everyLink(server.url, headers);
      expectNowhere(replies, 'evil.example');
      expectNowhere(replies, '203.0.113.7');
      expectAllUnder(links, server.url);
    }
  });

  it('a Host naming this machine (a loopback name, any port: a tunnel or a port forward) is kept', async () => {
    // (The machine's host name too, when it is one a Host header can carry.)
    const own = /^[a-z0-9-]+(\.[a-z0-9-]+)*$/i.test(hostname()) ? [`${hostname()}:8080`] : [];
    for (const host of ['localhost:9999', '127.0.0.2:1234', '[::1]:8080', ...own]) {
      const { links } = await everyLink(server.url, { host });
      expectAllUnder(links, `http://${host.toLowerCase()}`);
    }
  });
});

describe('with --trust-proxy', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await start({ trustProxy: true });
  });

  it('links take the first X-Forwarded-Proto and X-Forwarded-Host', async () => {
    const { links } = await everyLink(server.url, {
      host: 'evil.example',
      'x-forwarded-host': 'files.example.org, inner.proxy',
      'x-forwarded-proto': 'https, http',
    });
    expectAllUnder(links, 'https://files.example.org');
  });

  it('X-Forwarded-Host without a protocol is http; with a port it is kept', async () => {
    expectAllUnder((await everyLink(server.url, { 'x-forwarded-host': 'files.example.org:8443' })).links, 'http://files.example.org:8443');
  });

  it('a forwarded host or protocol that is not one is ignored, and the unknown Host is still not used', async () => {
    const cases: Array<Record<string, string>> = [
      { host: 'evil.example', 'x-forwarded-host': 'files.example.org/evil', 'x-forwarded-proto': 'https' },
      { host: 'evil.example', 'x-forwarded-host': 'user@files.example.org' },
      { host: 'evil.example', 'x-forwarded-host': 'files.example.org', 'x-forwarded-proto': 'javascript' },
    ];
    for (const headers of cases) {
      const { replies, links } = await everyLink(server.url, headers);
      expectNowhere(replies, 'evil.example');
      expectNowhere(replies, 'files.example.org');
      expectAllUnder(links, server.url);
    }
  });
});

describe('with --public-url', () => {
  it('links start with it, whatever the Host or forwarded headers say (also with --trust-proxy)', async () => {
    const server = await start({ publicUrl: 'https://files.example.com/ferry/', trustProxy: true });
    const { replies, links } = await everyLink(server.url, { host: 'evil.example', 'x-forwarded-host': 'other.example' });
    expectNowhere(replies, 'evil.example');
    expectNowhere(replies, 'other.example');
    expectAllUnder(links, 'https://files.example.com/ferry');
  });
});
