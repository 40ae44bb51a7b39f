// `ferry upload` and `ferry download` (the built CLI) over https: a Ferry server behind a TLS front
// whose certificate a throw-away CA signed. Trusted through NODE_EXTRA_CA_CERTS, both work and the
// bytes match; without that CA the CLI fails, saying why, in one line.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { jsonEvents, runCli } from '../helpers/cli.js';
import { MiB, startTestServer } from '../helpers/server.js';
import { makeTestCa, opensslMissing } from '../helpers/tls-ca.js';
import { startTlsFront } from '../helpers/tls-front.js';
import { tempDir } from '../download/support.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const missing = await opensslMissing();
if (missing && process.env.CI === 'true') throw new Error(`https tests: ${missing}`);

async function setUp() {
  const ca = await makeTestCa();
  cleanups.push(() => ca.cleanup());
  // The front first: the server's links must name it (--public-url).
  const front = await startTlsFront(ca);
  cleanups.push(() => front.close());
  const server = await startTestServer({ defaultChunkSize: 1 * MiB, publicUrl: front.url });
  cleanups.push(() => server.dispose());
  front.targetPort = Number(new URL(server.url).port);
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  const data = randomBytes(3 * MiB + 17);
  const source = join(dir, 'source.bin');
  await writeFile(source, data);
  const env = (caPath: string | undefined) => ({
    FERRY_STATE_DIR: join(dir, 'state'),
    NODE_EXTRA_CA_CERTS: caPath,
    HTTP_PROXY: undefined,
    http_proxy: undefined,
    HTTPS_PROXY: undefined,
    https_proxy: undefined,
  });
  return { ca, front, dir, data, source, env };
}

describe.skipIf(missing !== null)(`ferry over https${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('uploads and downloads through a TLS server trusted with NODE_EXTRA_CA_CERTS; the bytes match', async () => {
    const { ca, front, dir, data, source, env } = await setUp();
    const up = await runCli(['upload', source, '--server', front.url, '--json'], env(ca.caPath));
    expect(up.code, up.stderr).toBe(0);
    const [done] = jsonEvents(up.stdout.split('\n'), 'done');
    expect(done.fileUrl).toMatch(new RegExp(`^${front.url}/files/`));
    const out = join(dir, 'back.bin');
    const down = await runCli(['download', done.fileUrl, '-o', out], env(ca.caPath));
    expect(down.code, down.stderr).toBe(0);
    expect((await readFile(out)).equals(data)).toBe(true);
    expect(front.connections).toBeGreaterThan(0);
  });

  it('without the CA, upload and download fail in one line naming the certificate problem', async () => {
    const { front, dir, source, env } = await setUp();
    for (const args of [
      ['upload', source, '--server', front.url],
      ['download', `${front.url}/files/some-file`, '-o', join(dir, 'never.bin')],
    ]) {
      const started = Date.now();
      const r = await runCli(args, env(undefined));
      expect(r.code, args[0]).not.toBe(0);
      expect(Date.now() - started, args[0]).toBeLessThan(20_000);
      expect(r.stderr, args[0]).toMatch(/certificate/i);
      expect(r.stderr, args[0]).not.toMatch(/\n\s+at /);
    }
  }, 60_000);
});
