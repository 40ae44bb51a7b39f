// `ferry migrate`: a single node's data directory copied into PostgreSQL and S3 (real services), then
// served by a node on those stores: the same files byte for byte, verified by `ferry download`, the same
// ETags, API keys and share links; a second run copies nothing; a directory a server has open is refused.
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ListMultipartUploadsCommand, ListObjectsV2Command, ListPartsCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { Paths } from '../../src/protocol/index.js';
import { createApiKey } from '../../src/server/index.js';
import { runCli, startCli } from '../helpers/cli.js';
import { call, create, sendChunks } from '../helpers/http.js';
import { testS3Client } from '../helpers/s3.js';
import { MiB, spawnServer, startTestServer, tempDir, type ChildServer, type TestServer } from '../helpers/server.js';
import { backendCleanups, backendsSkip, freshBackends, s3Env, s3Flags, sha256File } from './backends.js';
import { sha256Field } from '../helpers/digest.js';

const skip = backendsSkip;
const cleanups = backendCleanups();

interface Made {
  fileId: string;
  name: string;
  data: Buffer;
  etag: string;
}

/** Uploads `data` in chunks of `chunkSize` (with its whole-file digest when `declare`); the file's id and ETag. */
async function put(server: TestServer, name: string, data: Buffer, chunkSize: number, declare = false): Promise<Made> {
  const created = await create(server.url, { name, size: data.length, chunkSize, ...(declare && { fileDigest: sha256Field(data) }) });
  expect(created.status, created.text).toBe(201);
  const order = Array.from({ length: created.body.totalChunks }, (_, i) => i);
  const replies = await sendChunks(server.url, created.body.uploadId, data, chunkSize, order);
  const fileId = replies.find((r) => r.body.fileId)?.body.fileId as string;
  expect(fileId).toBeTruthy();
  const head = await call(server.url, 'HEAD', Paths.file(fileId));
  return { fileId, name, data, etag: String(head.headers.etag) };
}

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe.skipIf(skip)('ferry migrate', () => {
  it('copies finished files, keys and the share-link key into PostgreSQL and S3; a node there serves them verified; again copies nothing', async () => {
    const { metaUrl, bucket } = await freshBackends();
    const dataDir = await tempDir('ferry-migrate-');
    const source = await startTestServer({ dataDir });
    cleanups.push(() => source.dispose());
    const files = [
      await put(source, 'empty.txt', Buffer.alloc(0), 64 * 1024),
      // 1 MiB chunks, under S3's 5 MiB parts: copied in larger parts, the file keeps its own chunks.
      await put(source, 'many-chunks.bin', randomBytes(12 * MiB + 123), 1 * MiB, true),
      // 6 MiB chunks: S3 takes them as they are, one part per chunk.
      await put(source, 'large-chunks.bin', randomBytes(11 * MiB), 6 * MiB),
    ];
    const admin = await createApiKey(source.ctx.meta, 'ops', 'admin', 'migrated', Date.now());
    const shared = await call(source.url, 'POST', `${Paths.file(files[1]!.fileId)}/share`, { headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(shared.status, shared.text).toBe(201);
    // Still in progress: stays behind, and the run says so.
    expect((await create(source.url, { name: 'unfinished.bin', size: 3 * 1024, chunkSize: 1024 })).status).toBe(201);

    const migrateArgs = ['migrate', '--data-dir', dataDir, '--meta', metaUrl, ...s3Flags(bucket)];
    // The server still has the directory open: refused, nothing copied.
    const refused = await runCli(migrateArgs, s3Env());
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^ferry migrate: .*meta\.sqlite is open in another process/);
    await source.close();

    const first = await runCli(migrateArgs, s3Env());
    expect(first.code, first.stdout + first.stderr).toBe(0);
    const lines = first.stdout.trim().split('\n');
    const copied = lines.filter((l) => l.startsWith('copied '));
    expect(copied).toHaveLength(3);
    // The 0-byte file is one empty part; 1 MiB chunks travel as 5 MiB parts; 6 MiB chunks as they are.
    for (const [f, parts] of [[files[0]!, '1 part'], [files[1]!, '3 parts'], [files[2]!, '2 parts']] as const) {
      expect(copied).toContainEqual(`copied   ${f.fileId}  ${f.data.length} B  ${f.name}  (${parts})`);
    }
    expect(lines).toContain('api keys: 1 copied, 0 already there');
    expect(lines).toContain('share-link-key: copied');
    expect(first.stdout).toMatch(/done in [\d.]+ s: 3 files copied \(23\.0 MiB\), 0 already there, 0 being copied by another run, 0 failed/);
    expect(first.stdout).toMatch(/not copied: 1 upload in progress/);
    expect(first.stdout).not.toContain(new URL(metaUrl).password);

    // Exactly one object per file under the prefix, no multipart upload left behind.
    const objects = await testS3Client().send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'ferry/' }));
    expect(objects.Contents?.map((o) => o.Size).sort((a, b) => a! - b!)).toEqual([0, 11 * MiB, 12 * MiB + 123]);
    expect((await testS3Client().send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).toEqual([]);

    // A node on the new stores, in token mode: the migrated admin key is its credential.
    const node: ChildServer = await spawnServer(['--auth', 'token', '--data-dir', await tempDir(), '--meta', metaUrl, ...s3Flags(bucket)], s3Env());
    cleanups.push(() => node.kill());
    const out = await tempDir('ferry-migrated-');
    for (const f of files) {
      const head = await call(node.url, 'HEAD', Paths.file(f.fileId), { headers: { authorization: `Bearer ${admin.key}` } });
      expect(head.status).toBe(200);
      expect(head.headers.etag).toBe(f.etag);
      const path = join(out, f.name);
      const got = await runCli(['download', `${node.url}${Paths.file(f.fileId)}`, '-o', path, '--token', admin.key, '--json'], { FERRY_STATE_DIR: join(out, 'state') });
      expect(got.code, got.stdout + got.stderr).toBe(0);
      // Verified against the manifest chunk by chunk (a Ferry server), not merely fetched.
      expect(got.stdout).toMatch(/"mode":"manifest"/);
      expect(await sha256File(path)).toBe(sha(f.data));
    }
    // A share link made by the old server opens the file on the new one.
    const link = new URL(shared.body.url);
    const viaLink = await fetch(`${node.url}${link.pathname}${link.search}`);
    expect(viaLink.status).toBe(200);
    expect(sha(Buffer.from(await viaLink.arrayBuffer()))).toBe(sha(files[1]!.data));

    const again = await runCli(migrateArgs, s3Env());
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout.split('\n').filter((l) => l.startsWith('present '))).toHaveLength(3);
    expect(again.stdout).toContain('api keys: 0 copied, 1 already there');
    expect(again.stdout).toContain('share-link-key: already there');
    expect(again.stdout).toMatch(/: 0 files copied \(0 B\), 3 already there, 0 being copied by another run, 0 failed/);
    const after = await testS3Client().send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'ferry/' }));
    expect(after.Contents?.map((o) => `${o.Key} ${o.ETag}`).sort()).toEqual(objects.Contents?.map((o) => `${o.Key} ${o.ETag}`).sort());
  });

  it('killed mid-file, runs again to a whole copy with nothing left behind', async () => {
    const { metaUrl, bucket } = await freshBackends();
    const dataDir = await tempDir('ferry-migrate-');
    const source = await startTestServer({ dataDir });
    const big = await put(source, 'big.bin', randomBytes(40 * MiB), 1 * MiB);
    cleanups.push(() => source.dispose());
    await source.close();
    const args = ['migrate', '--data-dir', dataDir, '--meta', metaUrl, ...s3Flags(bucket)];

    // Stopped hard once S3 holds part of the file.
    const run = startCli(args, s3Env());
    const s3 = testS3Client();
    await expect
      .poll(
        async () => {
          const uploads = (await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [];
          if (uploads.length === 0) return 0;
          const parts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: uploads[0]!.Key!, UploadId: uploads[0]!.UploadId! }));
          return parts.Parts?.length ?? 0;
        },
        { timeout: 20_000, interval: 50 },
      )
      .toBeGreaterThan(0);
    run.child.kill('SIGKILL');
    await run.done;

    // Until the killed run's lease on the file lapses the file is busy (exit 1); then it is copied whole.
    let last = await runCli(args, s3Env());
    const deadline = Date.now() + 30_000;
    while (last.code !== 0 && Date.now() < deadline) {
      expect(last.stdout).toMatch(/^busy +/m);
      last = await runCli(args, s3Env());
    }
    expect(last.code, last.stdout + last.stderr).toBe(0);
    expect(last.stdout).toContain(`copied   ${big.fileId}  ${40 * MiB} B  big.bin  (8 parts)`);
    expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).toEqual([]);
    const objects = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'ferry/' }));
    expect(objects.Contents?.map((o) => o.Size)).toEqual([40 * MiB]);

    const node: ChildServer = await spawnServer(['--data-dir', await tempDir(), '--meta', metaUrl, ...s3Flags(bucket)], s3Env());
    cleanups.push(() => node.kill());
    const out = await tempDir('ferry-migrated-');
    const got = await runCli(['download', `${node.url}${Paths.file(big.fileId)}`, '-o', join(out, 'big.bin')], { FERRY_STATE_DIR: join(out, 'state') });
    expect(got.code, got.stderr).toBe(0);
    expect(await sha256File(join(out, 'big.bin'))).toBe(sha(big.data));
  });
});

describe('ferry migrate, told where to copy wrongly', () => {
  it('needs both targets, and names what is wrong with them', async () => {
    const dataDir = await tempDir('ferry-migrate-');
    const noStore = await runCli(['migrate', '--data-dir', dataDir, '--meta', 'postgres://u:p@127.0.0.1:1/db']);
    expect(noStore.code).toBe(2);
    expect(noStore.stderr).toMatch(/^ferry migrate: --store is required/);
    const badMeta = await runCli(['migrate', '--data-dir', dataDir, '--meta', 'sqlite:///x', '--store', 's3://bucket']);
    expect(badMeta.code).toBe(2);
    expect(badMeta.stderr).toMatch(/^ferry migrate: --meta must be a postgres:\/\//);
    const noData = await runCli(['migrate', '--data-dir', dataDir, '--meta', 'postgres://u:p@127.0.0.1:1/db', '--store', 's3://bucket']);
    expect(noData.code).toBe(1);
    expect(noData.stderr).toMatch(/^ferry migrate: no Ferry data in .*no meta\.sqlite/);
  });
});
