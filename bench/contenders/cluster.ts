// Moving the file through the Ferry cluster (library upload and download, curl) and straight into and out
// of its S3 service with the AWS SDK (lib-storage Upload, GetObject): the cluster section's contenders.
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Contender, Measurement } from '../lib/contender.js';
import { reclaimDeletedS3Space } from '../lib/s3-service.js';
import { lastJson, measureClient, tsxArgs, type Env } from './common.js';

/** CPU of everything serving the transfer (Ferry nodes, PostgreSQL, the S3 service), read before and after a run. */
export interface ServingCpu {
  cpuSeconds(): number;
}

interface ClientReport {
  seconds: number;
  cpuSeconds: number;
  maxRssBytes: number;
  fileUrl?: string;
  size?: number;
}

/** Runs a library client script; its own timing (no process start), the serving side's CPU added. */
async function libraryRun(env: Env, script: string, args: string[], serving: ServingCpu): Promise<{ m: Measurement; report: ClientReport }> {
  const before = serving.cpuSeconds();
  const { run } = await measureClient(process.execPath, [...tsxArgs, join(env.repo, script), ...args], null, env.clientEnv);
  const report = lastJson<ClientReport>(run.stdout);
  const servingCpu = serving.cpuSeconds() - before;
  return {
    report,
    m: { seconds: report.seconds, cpuSeconds: report.cpuSeconds + servingCpu, ownCpuSeconds: run.cpuSeconds + servingCpu, peakRssBytes: report.maxRssBytes },
  };
}

export interface ClusterTarget {
  /** The proxy in front of the nodes. */
  url: string;
  serving: ServingCpu;
  s3: S3Client;
  bucket: string;
}

export function ferryClusterUpload(env: Env, file: string, t: ClusterTarget, chunkSize: number, concurrency: number): Contender {
  let fileUrl: string | null = null;
  return {
    id: 'cluster-ferry-up',
    label: `Ferry library → 3 nodes (${chunkSize / 1024 ** 2} MiB × ${concurrency})`,
    run: async () => {
      const { m, report } = await libraryRun(env, 'bench/clients/ferry-lib-upload.ts', [file, t.url, String(chunkSize), String(concurrency)], t.serving);
      fileUrl = report.fileUrl ?? null;
      return m;
    },
    // The file is deleted (its S3 object with it) so the next run starts from the same state.
    after: async () => {
      if (fileUrl) {
        const res = await fetch(fileUrl, { method: 'DELETE' });
        if (res.status !== 204 && res.status !== 200) throw new Error(`DELETE ${fileUrl}: ${res.status}`);
        fileUrl = null;
      }
      await reclaimDeletedS3Space();
    },
  };
}

export function s3Upload(env: Env, file: string, t: ClusterTarget, partSize: number, queueSize: number): Contender {
  const key = 'reference/upload.bin';
  return {
    id: 'cluster-s3-up',
    label: `lib-storage Upload → RGW (${partSize / 1024 ** 2} MiB × ${queueSize}, reference)`,
    run: async () => (await libraryRun(env, 'bench/clients/s3-transfer.ts', ['put', file, t.bucket, key, String(partSize), String(queueSize)], t.serving)).m,
    after: async () => {
      await t.s3.send(new DeleteObjectCommand({ Bucket: t.bucket, Key: key }));
      await reclaimDeletedS3Space();
    },
  };
}

interface DownloadTarget {
  out: string;
  size: number;
}

async function checked(t: DownloadTarget, m: Measurement): Promise<Measurement> {
  const got = (await stat(t.out)).size;
  if (got !== t.size) throw new Error(`downloaded ${got} bytes, expected ${t.size}`);
  return m;
}

async function removeOutput(t: DownloadTarget): Promise<void> {
  for (const suffix of ['', '.part', '.part.ferry']) await rm(t.out + suffix, { force: true });
}

export function ferryClusterDownload(env: Env, fileUrl: string, t: ClusterTarget & DownloadTarget): Contender {
  return {
    id: 'cluster-ferry-down',
    label: 'Ferry library download (verified, parallel) ← 3 nodes',
    run: async () => checked(t, (await libraryRun(env, 'bench/clients/ferry-lib-download.ts', [fileUrl, t.out], t.serving)).m),
    after: () => removeOutput(t),
  };
}

export function curlClusterDownload(curl: string | null, fileUrl: string, t: ClusterTarget & DownloadTarget): Contender {
  return {
    id: 'cluster-curl-down',
    label: 'curl ← 3 nodes (one connection: one node)',
    skip: curl ? null : 'curl is not installed',
    run: async () => checked(t, (await measureClient(curl!, ['-sS', '-f', '-o', t.out, fileUrl], t.serving)).m),
    after: () => removeOutput(t),
  };
}

export function s3Download(env: Env, key: string, t: ClusterTarget & DownloadTarget): Contender {
  return {
    id: 'cluster-s3-down',
    label: 'GetObject ← RGW, streamed + fdatasync (reference)',
    run: async () => checked(t, (await libraryRun(env, 'bench/clients/s3-transfer.ts', ['get', t.bucket, key, t.out], t.serving)).m),
    after: () => removeOutput(t),
  };
}
