// The S3 client a blob store talks through: settings that work with AWS S3, MinIO, Ceph RGW and R2 alike.
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { S3Client } from '@aws-sdk/client-s3';

export interface S3ClientOptions {
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** How long a request's socket may stay silent (nothing sent or received) before it fails; default 60 s. */
  idleTimeoutMs?: number;
}

/**
 * A stalled S3 (an answer that never comes, a body that stops mid-way) fails after this much silence.
 * An idle timeout, not a deadline: a long download or part upload that keeps moving is never cut.
 */
export const defaultIdleTimeoutMs = 60_000;

/**
 * Connections kept to S3. Every chunk being received and every download being served holds one for its
 * whole length, so the SDK's default of 50 would queue uploads behind a few dozen slow downloaders.
 */
const maxSockets = 512;

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

export function createS3Client(options: S3ClientOptions): S3Client {
  return new S3Client({
    ...(options.endpoint !== undefined && { endpoint: options.endpoint }),
    // A custom endpoint (RGW, MinIO) needs some region to sign with; AWS itself finds the bucket's region by redirect.
    region: options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    followRegionRedirects: true,
    forcePathStyle: options.forcePathStyle ?? false,
    // Absent: the SDK's default chain (AWS_ACCESS_KEY_ID..., profiles, instance roles).
    ...(options.credentials && { credentials: options.credentials }),
    // Parts are streamed with a known length. With checksums 'WHEN_SUPPORTED' the SDK sends streams
    // aws-chunked with a trailing checksum, which Ceph RGW before 18 refuses (411 MissingContentLength);
    // Ferry verifies every chunk's digest itself.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // With Expect: 100-continue the SDK opens a fresh connection (no keep-alive) for every part and may
    // wait seconds for a "100 Continue" some services never send.
    expectContinueHeader: false,
    // The SDK otherwise prints to the console (e.g. for every part whose client went away); what goes
    // wrong reaches the caller as the error thrown, which the server logs.
    logger: quiet,
    requestHandler: {
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
      // An endpoint that does not answer at all fails in seconds, not at the kernel's TCP timeout.
      connectionTimeout: 5_000,
      // The socket's inactivity timeout (the handler's requestTimeout is a deadline on the whole request).
      socketTimeout: options.idleTimeoutMs ?? defaultIdleTimeoutMs,
    },
  });
}
