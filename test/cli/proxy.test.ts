// `ferry upload` and `ferry download` (the built CLI) honour HTTP_PROXY and NO_PROXY: with a proxy set,
// every request goes through it (a forward proxy that records them); with NO_PROXY naming the server's
// host, none does. Loopback is not exempt by itself, as with curl: NO_PROXY has to say so.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { jsonEvents, runCli } from '../helpers/cli.js';
import { startForwardProxy } from '../helpers/forward-proxy.js';
import { MiB, startTestServer } from '../helpers/server.js';
import { tempDir } from '../download/support.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setUp() {
  const server = await startTestServer({ defaultChunkSize: 1 * MiB });
  cleanups.push(() => server.dispose());
  const proxy = await startForwardProxy();
  cleanups.push(() => proxy.close());
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  const data = randomBytes(3 * MiB + 11);
  const source = join(dir, 'source.bin');
  await writeFile(source, data);
  // Only what each run sets: the machine's own proxy settings are removed.
  const env = (proxyEnv: Record<string, string>) => ({
    FERRY_STATE_DIR: join(dir, 'state'),
    HTTP_PROXY: undefined,
    http_proxy: undefined,
    HTTPS_PROXY: undefined,
    https_proxy: undefined,
    NO_PROXY: undefined,
    no_proxy: undefined,
    ...proxyEnv,
  });
  return { server, proxy, dir, data, source, env };
}

async function roundTrip(source: string, serverUrl: string, out: string, env: NodeJS.ProcessEnv): Promise<Buffer> {
  const up = await runCli(['upload', source, '--server', serverUrl, '--no-resume', '--json'], env);
  expect(up.code, up.stderr).toBe(0);
  const [done] = jsonEvents(up.stdout.split('\n'), 'done');
  const down = await runCli(['download', done.fileUrl, '-o', out], env);
  expect(down.code, down.stderr).toBe(0);
  return readFile(out);
}

describe('ferry and HTTP_PROXY / NO_PROXY', () => {
  it('with HTTP_PROXY set, uploads and downloads go through the proxy', async () => {
    const { server, proxy, dir, data, source, env } = await setUp();
    const got = await roundTrip(source, server.url, join(dir, 'via-proxy.bin'), env({ HTTP_PROXY: proxy.url }));
    expect(got.equals(data)).toBe(true);
    const methods = new Set(proxy.requests.map((r) => r.split(' ')[0]));
    // The upload's creation and chunks, the download's manifest and ranges: all as absolute-form requests.
    expect(methods.has('POST')).toBe(true);
    expect(methods.has('GET')).toBe(true);
    expect(proxy.requests.every((r) => r.split(' ')[1]!.startsWith(`${server.url}/`))).toBe(true);
    expect(proxy.requests.filter((r) => r.startsWith('GET ') && r.includes('/files/')).length).toBeGreaterThan(1);
  });

  it('the lower-case http_proxy works too; NO_PROXY naming the host bypasses it', async () => {
    const { server, proxy, dir, data, source, env } = await setUp();
    const viaLower = await roundTrip(source, server.url, join(dir, 'lower.bin'), env({ http_proxy: proxy.url }));
    expect(viaLower.equals(data)).toBe(true);
    const through = proxy.requests.length;
    expect(through).toBeGreaterThan(0);
    const direct = await roundTrip(source, server.url, join(dir, 'direct.bin'), env({ HTTP_PROXY: proxy.url, NO_PROXY: 'localhost,127.0.0.1' }));
    expect(direct.equals(data)).toBe(true);
    expect(proxy.requests).toHaveLength(through);
  });

  it('the management commands (ls, rm, status) go through the proxy too', async () => {
    const { server, proxy, source, env } = await setUp();
    const viaProxy = env({ HTTP_PROXY: proxy.url });
    const up = await runCli(['upload', source, '--server', server.url, '--json'], env({}));
    expect(up.code, up.stderr).toBe(0);
    const [done] = jsonEvents(up.stdout.split('\n'), 'done');
    const ls = await runCli(['ls', '--server', server.url], viaProxy);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toContain(done.fileUrl);
    const status = await runCli(['status', done.uploadId, '--server', server.url], viaProxy);
    expect(status.code, status.stderr).toBe(0);
    const rm = await runCli(['rm', done.fileUrl], viaProxy);
    expect(rm.code, rm.stderr).toBe(0);
    const asked = proxy.requests.map((r) => r.split(' ').slice(0, 2).join(' '));
    expect(asked.some((r) => r.startsWith('GET ') && r.includes('/files?') || r === `GET ${server.url}/files`)).toBe(true);
    expect(asked.some((r) => r.startsWith('GET ') && r.includes(`/uploads/${done.uploadId}`))).toBe(true);
    expect(asked).toContain(`DELETE ${done.fileUrl}`);
  });
});
