// A Ferry cluster on loopback for tests: N `ferry serve` processes sharing one fresh PostgreSQL database
// and one fresh S3 bucket, behind a round-robin TCP proxy whose URL is every node's --public-url.
import { rm } from 'node:fs/promises';
import { once } from 'node:events';
import {
  AbortMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import { startRoundRobinProxy, type RoundRobinProxy } from './round-robin-proxy.js';
import { testPostgres } from './postgres.js';
import { freshBucket, s3Required, testS3, testS3Client, type TestS3 } from './s3.js';
import { spawnServer, tempDir, type ChildServer } from './server.js';

export type LogEntry = Record<string, unknown>;

export interface ClusterOptions {
  /** Number of nodes (default 3). */
  nodes?: number;
  /** --chunk-takeover: how long a stalled chunk writer holds its chunk (default: the server's, 2 s). */
  chunkTakeoverSeconds?: number;
  /** --upload-ttl (default: the server's, a day). */
  uploadTtlSeconds?: number;
  /** --sweep-interval (default 3600: no sweep during a test unless it asks for one). */
  sweepIntervalSeconds?: number;
  /** More `ferry serve` arguments, the same for every node. */
  args?: string[];
  /** Environment of node `i` at each start that restart() is not given one for (e.g. a kill hook preloaded through NODE_OPTIONS). */
  env?: (i: number) => NodeJS.ProcessEnv;
}

export interface ClusterNode {
  index: number;
  /** The node's own address (a client of the cluster uses the proxy's). */
  url: string;
  port: number;
  /** The running process, null while the node is down. */
  server: ChildServer | null;
  /** Every process this node has been, oldest first (each keeps its own log lines). */
  readonly runs: readonly ChildServer[];
  /** Every JSON log line of every run of this node, oldest first. */
  logs(): LogEntry[];
}

export interface Cluster {
  /** The proxy's URL: what clients use, and every node's --public-url. */
  url: string;
  proxy: RoundRobinProxy;
  nodes: ClusterNode[];
  databaseUrl: string;
  bucket: string;
  s3: TestS3;
  /** An S3 client on the cluster's service (for checks such as ListMultipartUploads). */
  s3Client: S3Client;
  /** SIGKILLs node `i` and waits until it is gone. */
  kill(i: number): Promise<void>;
  /** SIGTERM: node `i` shuts down cleanly (work in progress finished); resolves once its last log line is read. */
  stop(i: number): Promise<void>;
  /** Starts node `i` again on its port (after kill or stop; kills it first if it still runs), with `env` instead of options.env. */
  restart(i: number, env?: NodeJS.ProcessEnv): Promise<ChildServer>;
  /** Log lines of every node (each with `node`: its index), optionally only those of one event. */
  logs(event?: string): Array<LogEntry & { node: number }>;
  /** Chunks each node stored (201s), in node order; of one upload when given. */
  chunksStored(uploadId?: string): number[];
  /** Stops every node and the proxy, empties and deletes the bucket; safe to call twice. */
  dispose(): Promise<void>;
}

/** Why a cluster cannot run here (no S3 service configured; in CI that throws instead), or null when it can. */
export const clusterUnavailable: string | null = s3Required;

export async function startCluster(o: ClusterOptions = {}): Promise<Cluster> {
  const count = o.nodes ?? 3;
  const s3 = testS3();
  if (!s3) throw new Error(clusterUnavailable ?? 'no S3 service');
  const cleanups: Array<() => Promise<unknown>> = [];
  let disposed: Promise<void> | null = null;
  const dispose = () =>
    (disposed ??= (async () => {
      const errors: unknown[] = [];
      for (const c of cleanups.splice(0).reverse()) await c().catch((e: unknown) => errors.push(e));
      if (errors.length) throw errors[0];
    })());

  try {
    const s3Client = testS3Client();
    const [pg, bucket] = await Promise.all([testPostgres(), freshBucket()]);
    cleanups.push(() => deleteBucket(s3Client, bucket));
    const databaseUrl = await pg.newDatabase();
    const workDir = await tempDir('ferry-cluster-');
    cleanups.push(() => rm(workDir, { recursive: true, force: true }));

    // The proxy's port is needed before the nodes start (it is their public URL); its backends are
    // filled in as the nodes listen.
    const placeholder = Array.from({ length: count }, () => ({ host: '127.0.0.1', port: 1 }));
    const proxy = await startRoundRobinProxy(placeholder);
    cleanups.push(() => proxy.close());

    const args = (i: number, port: number) => [
      '--port',
      String(port),
      '--data-dir',
      `${workDir}/node-${i}`,
      '--meta',
      databaseUrl,
      '--store',
      `s3://${bucket}`,
      '--s3-endpoint',
      s3.endpoint,
      '--s3-region',
      s3.region,
      ...(s3.forcePathStyle ? ['--s3-path-style'] : []),
      '--public-url',
      proxy.url,
      ...(o.chunkTakeoverSeconds === undefined ? [] : ['--chunk-takeover', String(o.chunkTakeoverSeconds)]),
      '--sweep-interval',
      String(o.sweepIntervalSeconds ?? 3600),
      ...(o.uploadTtlSeconds === undefined ? [] : ['--upload-ttl', String(o.uploadTtlSeconds)]),
      ...(o.args ?? []),
    ];
    const credentials = {
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      AWS_REGION: s3.region,
      // Each node would print the SDK's notice that its 2027 releases need Node 22: noise in test output.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    };

    interface NodeState extends ClusterNode {
      runs: ChildServer[];
    }
    const nodes: NodeState[] = Array.from({ length: count }, (_, index) => {
      const node: NodeState = {
        index,
        url: '',
        port: 0,
        server: null,
        runs: [],
        logs: () => node.runs.flatMap((r) => r.logs),
      };
      return node;
    });

    const start = async (i: number, env?: NodeJS.ProcessEnv): Promise<ChildServer> => {
      const node = nodes[i]!;
      const server = await spawnServer(args(i, node.port), { ...credentials, ...(env ?? o.env?.(i)) });
      node.runs.push(server);
      node.server = server;
      node.url = server.url;
      node.port = Number(new URL(server.url).port);
      proxy.setBackend(i, { host: '127.0.0.1', port: node.port });
      server.process.once('exit', () => {
        if (node.server === server) node.server = null;
      });
      return server;
    };
    const kill = async (i: number) => {
      const node = nodes[i]!;
      await node.server?.kill();
      node.server = null;
    };
    cleanups.push(() => Promise.all(nodes.map((_, i) => kill(i))));

    // All at once, as a deployment starts them: each migrates the fresh database at start (under a lock).
    await Promise.all(nodes.map((_, i) => start(i)));

    const logs = (event?: string) =>
      nodes.flatMap((n) => n.logs().filter((l) => event === undefined || l.event === event).map((l) => ({ ...l, node: n.index })));

    return {
      url: proxy.url,
      proxy,
      nodes,
      databaseUrl,
      bucket,
      s3,
      s3Client,
      kill,
      async stop(i) {
        const server = nodes[i]!.server;
        const p = server?.process;
        if (!p || p.exitCode !== null || p.signalCode !== null) return;
        const gone = Promise.all([once(p, 'exit'), p.stdout!.closed ? null : once(p.stdout!, 'close')]);
        p.kill('SIGTERM');
        await gone;
        nodes[i]!.server = null;
      },
      async restart(i, env) {
        await kill(i);
        return start(i, env);
      },
      logs,
      chunksStored(uploadId) {
        return nodes.map(
          (n) => n.logs().filter((l) => l.event === 'chunk' && l.outcome === 'stored' && (uploadId === undefined || l.uploadId === uploadId)).length,
        );
      },
      dispose,
    };
  } catch (error) {
    await dispose().catch(() => {});
    throw error;
  }
}

/** Aborts every multipart upload, deletes every object, then the bucket (RGW's disk is small). */
export async function deleteBucket(s3: S3Client, bucket: string): Promise<void> {
  for (;;) {
    const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    const uploads = listed.Uploads ?? [];
    for (const u of uploads) await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key!, UploadId: u.UploadId! }));
    if (!listed.IsTruncated || uploads.length === 0) break;
  }
  for (;;) {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    const keys = (listed.Contents ?? []).map((c) => ({ Key: c.Key! }));
    if (keys.length) await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
    if (!listed.IsTruncated || keys.length === 0) break;
  }
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
}

/** Multipart uploads still open in `bucket` (parts nobody completed or aborted). */
export async function openMultipartUploads(s3: S3Client, bucket: string): Promise<Array<{ key: string; uploadId: string }>> {
  const out: Array<{ key: string; uploadId: string }> = [];
  let KeyMarker: string | undefined;
  let UploadIdMarker: string | undefined;
  for (;;) {
    const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, KeyMarker, UploadIdMarker }));
    for (const u of listed.Uploads ?? []) out.push({ key: u.Key!, uploadId: u.UploadId! });
    if (!listed.IsTruncated) return out;
    KeyMarker = listed.NextKeyMarker;
    UploadIdMarker = listed.NextUploadIdMarker;
  }
}
