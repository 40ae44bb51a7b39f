// The real S3 service tests run against (CI: the Ceph RGW .ci/run starts), from FERRY_TEST_S3_*; fresh buckets on it.
import { randomBytes } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';

export interface TestS3 {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  forcePathStyle: boolean;
}

const variables = ['FERRY_TEST_S3_ENDPOINT', 'FERRY_TEST_S3_ACCESS_KEY', 'FERRY_TEST_S3_SECRET_KEY'] as const;

/** The S3 service named by FERRY_TEST_S3_ENDPOINT, _ACCESS_KEY, _SECRET_KEY (and _REGION), or null. */
export function testS3(): TestS3 | null {
  const env = process.env;
  if (variables.some((name) => !env[name])) return null;
  return {
    endpoint: env.FERRY_TEST_S3_ENDPOINT!,
    region: env.FERRY_TEST_S3_REGION || 'us-east-1',
    accessKeyId: env.FERRY_TEST_S3_ACCESS_KEY!,
    secretAccessKey: env.FERRY_TEST_S3_SECRET_KEY!,
    // Test services (RGW, MinIO) are addressed by path; a bucket per test would need a DNS name each.
    forcePathStyle: true,
  };
}

/**
 * Null when an S3 service is configured, else the reason S3 tests are skipped (`describe.skipIf(s3Required)`).
 * In CI (CI=true) a missing service is an error, not a skip: .ci/run starts one.
 */
export const s3Required: string | null = (() => {
  if (testS3()) return null;
  const missing = variables.filter((name) => !process.env[name]).join(', ');
  if (process.env.CI === 'true') throw new Error(`S3 tests need a service in CI, but ${missing} is not set (.ci/run starts Ceph RGW and sets them).`);
  return `S3 tests skipped: ${missing} not set (start ../shared/tools/ceph-s3/start.sh and export FERRY_TEST_S3_*)`;
})();
if (s3Required) console.warn(s3Required);

/** What openS3BlobStore needs to reach the test service, for `bucket`. */
export function s3StoreOptions(bucket: string, prefix?: string) {
  const s3 = requireS3();
  return {
    bucket,
    ...(prefix !== undefined && { prefix }),
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: s3.forcePathStyle,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  };
}

let admin: S3Client | null = null;
const made = new Set<string>();

/** A plain client on the test service, for looking behind a store (listing, creating buckets). */
export function testS3Client(): S3Client {
  const s3 = requireS3();
  admin ??= new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: s3.forcePathStyle,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return admin;
}

/** Creates a new, empty bucket with a unique name; dropBuckets() removes it with everything in it. */
export async function freshBucket(): Promise<string> {
  const name = `ferry-test-${Date.now().toString(36)}-${randomBytes(5).toString('hex')}`;
  await testS3Client().send(new CreateBucketCommand({ Bucket: name }));
  made.add(name);
  return name;
}

/** Empties and deletes every bucket freshBucket() made in this process (call it in afterAll). */
export async function dropBuckets(): Promise<void> {
  const client = admin;
  if (!client) return;
  for (const bucket of made) {
    for (;;) {
      const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      for (const u of uploads.Uploads ?? []) {
        await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key!, UploadId: u.UploadId! })).catch(() => {});
      }
      if (!uploads.IsTruncated) break;
    }
    for (;;) {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
      const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
      if (keys.length === 0) break;
      await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
    }
    await client.send(new DeleteBucketCommand({ Bucket: bucket }));
    made.delete(bucket);
  }
}

function requireS3(): TestS3 {
  const s3 = testS3();
  if (!s3) throw new Error(s3Required ?? 'no test S3 service');
  return s3;
}
