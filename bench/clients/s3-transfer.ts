// The reference a user would otherwise pick for S3: @aws-sdk/lib-storage's Upload (parallel multipart)
// and a streamed GetObject into a file (fdatasync at the end, as Ferry's download does). One JSON line.
// Run: node --import tsx bench/clients/s3-transfer.ts put <file> <bucket> <key> <partSize> <queueSize>
//      node --import tsx bench/clients/s3-transfer.ts get <bucket> <key> <out>
// The service from FERRY_TEST_S3_ENDPOINT, _REGION, _ACCESS_KEY, _SECRET_KEY (path-style addressing).
import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

const env = process.env;
const s3 = new S3Client({
  endpoint: env.FERRY_TEST_S3_ENDPOINT,
  region: env.FERRY_TEST_S3_REGION || 'us-east-1',
  forcePathStyle: true,
  credentials: { accessKeyId: env.FERRY_TEST_S3_ACCESS_KEY!, secretAccessKey: env.FERRY_TEST_S3_SECRET_KEY! },
  // Ceph RGW before 18 refuses aws-chunked bodies with trailing checksums (see ../shared/tools/ceph-s3).
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
});

const [op, ...args] = process.argv.slice(2);
const cpuBefore = process.cpuUsage();
const started = performance.now();
let size = 0;
if (op === 'put') {
  const [file, bucket, key, partSize, queueSize] = args as [string, string, string, string, string];
  const body = createReadStream(file, { highWaterMark: 1024 * 1024 });
  body.on('data', (d) => (size += d.length));
  await new Upload({ client: s3, params: { Bucket: bucket, Key: key, Body: body }, partSize: Number(partSize), queueSize: Number(queueSize) }).done();
} else if (op === 'get') {
  const [bucket, key, out] = args as [string, string, string];
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const body = res.Body as Readable;
  body.on('data', (d: Buffer) => (size += d.length));
  await pipeline(body, createWriteStream(out));
  const fh = await open(out, 'r+');
  await fh.datasync();
  await fh.close();
} else {
  throw new Error(`unknown operation ${op}: put or get`);
}
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
s3.destroy();
console.log(JSON.stringify({ seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, size, maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
