// For CLI tests on PostgreSQL and S3: the flags and environment that point `ferry` at the test services,
// a database and a bucket of their own, and a `ferry serve` that must fail fast with one line.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach } from 'vitest';
import { startCli } from '../helpers/cli.js';
import { postgresSkipReason, testPostgres } from '../helpers/postgres.js';
import { dropBuckets, freshBucket, s3Required, testS3 } from '../helpers/s3.js';

export { closedPort } from '../helpers/ports.js';

/** Why tests on PostgreSQL + S3 cannot run here; null when they can (in CI a missing service throws instead). */
export const backendsSkip: string | null = s3Required ?? (await postgresSkipReason());

/**
 * For a test file on PostgreSQL + S3: clean-ups each test registers, run after it (last first), and
 * the test buckets dropped when the file is done.
 */
export function backendCleanups(): Array<() => Promise<unknown>> {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  afterAll(async () => {
    if (!s3Required) await dropBuckets();
  });
  return cleanups;
}

/** The test S3 service as `ferry` flags for `bucket` (under `prefix`), RGW-style addressing. */
export function s3Flags(bucket: string, prefix = 'ferry', endpoint?: string): string[] {
  const s3 = testS3()!;
  return ['--store', `s3://${bucket}/${prefix}`, '--s3-endpoint', endpoint ?? s3.endpoint, '--s3-region', s3.region, '--s3-path-style'];
}

/** Credentials as an operator gives them: the AWS SDK's standard variables. */
export function s3Env(overrides: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const s3 = testS3()!;
  return { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, ...overrides };
}

/** A fresh database (URL with its password) and a fresh bucket. */
export async function freshBackends(): Promise<{ metaUrl: string; bucket: string }> {
  const [metaUrl, bucket] = await Promise.all([(await testPostgres()).newDatabase(), freshBucket()]);
  return { metaUrl, bucket };
}

/**
 * Runs `ferry serve` that is expected not to start: its exit code, stderr and how long it took. One
 * that starts anyway is killed after `limitMs` (and reported with code null) rather than waited for.
 */
export async function serveThatFails(args: string[], env: NodeJS.ProcessEnv = {}, limitMs = 20_000) {
  const started = Date.now();
  const run = startCli(['serve', '--host', '127.0.0.1', '--port', '0', ...args], env);
  const timer = setTimeout(() => run.child.kill('SIGKILL'), limitMs);
  const done = await run.done;
  clearTimeout(timer);
  return { ...done, ms: Date.now() - started };
}

/** A file of `size` random bytes under `dir`, written in pieces; its SHA-256 (hex). */
export async function randomFile(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const fh = await open(path, 'w');
  try {
    for (let at = 0; at < size; at += 1 << 20) {
      const bytes = randomBytes(Math.min(1 << 20, size - at));
      hash.update(bytes);
      await fh.write(bytes);
    }
  } finally {
    await fh.close();
  }
  return hash.digest('hex');
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of createReadStream(path)) hash.update(piece as Buffer);
  return hash.digest('hex');
}
