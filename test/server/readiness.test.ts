// GET /readyz, what a load balancer asks: 200 while both stores answer, 503 naming the one that does not,
// and ready again once it is back. On the embedded stores, and on PostgreSQL and S3 reached through a
// TCP proxy the test cuts (real services, real connections refused).
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { call } from '../helpers/http.js';
import { startRoundRobinProxy, type RoundRobinProxy } from '../helpers/round-robin-proxy.js';
import { testS3 } from '../helpers/s3.js';
import { spawnServer, startTestServer, tempDir, type ChildServer, type TestServer } from '../helpers/server.js';
import { backendCleanups, backendsSkip, closedPort, freshBackends, s3Env, s3Flags } from '../cli/backends.js';

const skip = backendsSkip;
const cleanups = backendCleanups();

const ready = { status: 'ready', checks: { meta: 'ok', blobs: 'ok' } };

describe('GET /readyz on the embedded stores', () => {
  it('is ready while SQLite and the data directory answer, 503 naming the blob store when its directory is gone', async () => {
    const server: TestServer = await startTestServer({ auth: 'token' });
    cleanups.push(() => server.dispose());
    // No credential: a load balancer has none.
    const first = await call(server.url, 'GET', '/readyz');
    expect(first.status).toBe(200);
    expect(first.body).toEqual(ready);

    await rm(join(server.dataDir, 'uploads'), { recursive: true });
    const down = await call(server.url, 'GET', '/readyz');
    expect(down.status).toBe(503);
    expect(down.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(down.body).toMatchObject({ type: 'urn:ferry:problem:service-unavailable', checks: { meta: 'ok', blobs: 'failed' } });
    expect(down.body.detail).toMatch(/the blob store does not answer/);
    // Never the reason itself (paths, host names) on a public endpoint.
    expect(down.text).not.toContain(server.dataDir);

    await mkdir(join(server.dataDir, 'uploads'));
    expect((await call(server.url, 'GET', '/readyz')).body).toEqual(ready);
  });
});

describe.skipIf(skip)('GET /readyz on PostgreSQL and S3', () => {
  /** A proxy whose only backend is `target`; `down()` cuts it and sends new connections to a closed port. */
  async function cuttable(target: { host: string; port: number }) {
    const proxy: RoundRobinProxy = await startRoundRobinProxy([target]);
    cleanups.push(() => proxy.close());
    const nowhere = { host: '127.0.0.1', port: await closedPort() };
    return {
      proxy,
      down() {
        proxy.setBackend(0, nowhere);
        proxy.cut(0);
      },
      up() {
        proxy.setBackend(0, target);
      },
    };
  }

  it('answers 503 naming the store that stopped answering, and 200 again once it is back', async () => {
    const { metaUrl, bucket } = await freshBackends();
    const db = new URL(metaUrl);
    const s3 = new URL(testS3()!.endpoint);
    const pgPath = await cuttable({ host: db.hostname, port: Number(db.port) });
    const s3Path = await cuttable({ host: s3.hostname, port: Number(s3.port) });
    const viaProxy = new URL(metaUrl);
    viaProxy.port = String(pgPath.proxy.port);
    const child: ChildServer = await spawnServer(['--data-dir', await tempDir(), '--meta', viaProxy.href, ...s3Flags(bucket, 'ferry', s3Path.proxy.url)], s3Env());
    cleanups.push(() => child.kill());
    const readyz = () => call(child.url, 'GET', '/readyz');
    expect((await readyz()).body).toEqual(ready);

    pgPath.down();
    await expect.poll(async () => (await readyz()).status, { timeout: 10_000, interval: 100 }).toBe(503);
    const noMeta = await readyz();
    expect(noMeta.body).toMatchObject({ type: 'urn:ferry:problem:service-unavailable', checks: { blobs: 'ok' } });
    expect(noMeta.body.checks.meta).not.toBe('ok');
    expect(noMeta.body.detail).toMatch(/the metadata store does not answer/);
    // The log says why, once, when readiness changes.
    await expect.poll(() => child.logs.filter((l) => l.event === 'readiness' && l.ready === false).length).toBe(1);

    pgPath.up();
    await expect.poll(async () => (await readyz()).body, { timeout: 15_000, interval: 100 }).toEqual(ready);

    s3Path.down();
    await expect.poll(async () => (await readyz()).status, { timeout: 10_000, interval: 100 }).toBe(503);
    const noBlobs = await readyz();
    expect(noBlobs.body.checks.meta).toBe('ok');
    expect(noBlobs.body.checks.blobs).not.toBe('ok');
    expect(noBlobs.body.detail).toMatch(/the blob store does not answer/);
    // Liveness is not readiness: the process answers, and a load balancer only stops sending it work.
    expect((await call(child.url, 'GET', '/healthz')).status).toBe(200);

    s3Path.up();
    await expect.poll(async () => (await readyz()).body, { timeout: 15_000, interval: 100 }).toEqual(ready);
  });
});
