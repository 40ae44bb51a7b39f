// `ferry serve --meta postgres://… --store s3://…` as an operator runs it: files go in and out through
// PostgreSQL and S3 (real embedded PostgreSQL, real Ceph RGW), and every store it cannot use is one line and an exit.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { call } from '../helpers/http.js';
import { postgresSkipReason, testPostgres } from '../helpers/postgres.js';
import { dropBuckets, freshBucket, s3Required, testS3Client } from '../helpers/s3.js';
import { MiB, spawnServer, tempDir, type ChildServer } from '../helpers/server.js';
import { closedPort, freshBackends, randomFile, s3Env, s3Flags, serveThatFails, sha256File } from './backends.js';

const pgSkip = await postgresSkipReason();
const skip = s3Required ?? pgSkip;

let child: ChildServer | undefined;
afterEach(async () => {
  await child?.kill();
  child = undefined;
});
afterAll(async () => {
  if (!s3Required) await dropBuckets();
});

describe.skipIf(skip)('ferry serve on PostgreSQL and S3', () => {
  it('starts, names its stores without the password, and a file goes up and comes back byte-identical', async () => {
    const { metaUrl, bucket } = await freshBackends();
    const password = new URL(metaUrl).password;
    const dataDir = await tempDir();
    child = await spawnServer(['--data-dir', dataDir, '--meta', metaUrl, '--meta-pool-size', '4', ...s3Flags(bucket)], s3Env());
    const db = new URL(metaUrl);
    expect(child.listening).toMatchObject({ meta: `postgres://${db.host}${db.pathname}`, store: `s3://${bucket}/ferry` });
    expect(JSON.stringify(child.logs)).not.toContain(password);
    expect((await call(child.url, 'GET', '/readyz')).body).toEqual({ status: 'ready', checks: { meta: 'ok', blobs: 'ok' } });

    const dir = await tempDir('ferry-backends-');
    const source = join(dir, 'big.bin');
    const sha = await randomFile(source, 12 * MiB + 5);
    const env = { FERRY_STATE_DIR: join(dir, 'state') };
    const up = await runCli(['upload', source, '--server', child.url], env);
    expect(up.code, up.stderr).toBe(0);
    const fileUrl = up.stdout.trim();
    const out = join(dir, 'back.bin');
    const down = await runCli(['download', fileUrl, '-o', out], env);
    expect(down.code, down.stderr).toBe(0);
    expect(await sha256File(out)).toBe(sha);

    // The bytes are in the bucket under the prefix, the metadata in PostgreSQL: nothing in the data directory.
    const listed = await testS3Client().send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'ferry/' }));
    expect(listed.Contents?.map((o) => o.Size)).toEqual([12 * MiB + 5]);
    expect(await stat(join(dataDir, 'meta.sqlite')).catch(() => null)).toBeNull();
    expect(await stat(join(dataDir, 'files')).catch(() => null)).toBeNull();
  });
});

describe('ferry serve with a store it cannot use: one line, an exit code, within seconds', () => {
  it('an unknown --meta scheme is a configuration error naming the option, without the password', async () => {
    const r = await serveThatFails(['--data-dir', await tempDir(), '--meta', 'mysql://ferry:hunter2@db.example/ferry']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^ferry serve: meta: --meta must be a postgres:\/\/ .*"mysql:"/);
    expect(r.stderr).not.toContain('hunter2');
  });

  it('a --meta-pool-size that is not a positive count is refused, naming the option', async () => {
    const r = await serveThatFails(['--data-dir', await tempDir(), '--meta-pool-size', '0']);
    // One line naming the option and the value, as for every option value the CLI rejects (exit 2: usage).
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^ferry serve: --meta-pool-size: .*"0"/);
  });

  it('an unknown --store scheme is a configuration error naming the option', async () => {
    const r = await serveThatFails(['--data-dir', await tempDir(), '--store', 'gs://bucket/prefix']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^ferry serve: store: --store must be s3:\/\/bucket/);
  });

  it('a database nobody listens for', async () => {
    const port = await closedPort();
    const r = await serveThatFails(['--data-dir', await tempDir(), '--meta', `postgres://ferry:hunter2@127.0.0.1:${port}/ferry`]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^ferry serve: --meta postgres://127\\.0\\.0\\.1:${port}/ferry: `));
    expect(r.stderr).not.toContain('hunter2');
    expect(r.ms).toBeLessThan(15_000);
  });

  it.skipIf(pgSkip)('a database that refuses the password', async () => {
    const metaUrl = await (await testPostgres()).newDatabase();
    const wrong = new URL(metaUrl);
    wrong.password = 'not-the-password';
    const r = await serveThatFails(['--data-dir', await tempDir(), '--meta', wrong.href]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^ferry serve: --meta postgres:\/\/.*: .*(password|authentication)/i);
    expect(r.stderr).not.toContain('not-the-password');
    expect(r.ms).toBeLessThan(15_000);
  });

  it.skipIf(s3Required)('a bucket that does not exist', async () => {
    const r = await serveThatFails(['--data-dir', await tempDir(), ...s3Flags(`ferry-missing-${Date.now().toString(36)}`)], s3Env());
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^ferry serve: --store s3:\/\/ferry-missing-[a-z0-9]+\/ferry: .*does not exist/);
    expect(r.ms).toBeLessThan(15_000);
  });

  it.skipIf(s3Required)('an S3 secret the service refuses', async () => {
    const bucket = await freshBucket();
    const r = await serveThatFails(['--data-dir', await tempDir(), ...s3Flags(bucket)], s3Env({ AWS_SECRET_ACCESS_KEY: 'wrong-secret' }));
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^ferry serve: --store s3://${bucket}/ferry: .*credentials`));
    expect(r.stderr).not.toContain('wrong-secret');
    expect(r.ms).toBeLessThan(15_000);
  });
});
