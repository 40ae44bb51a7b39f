// Server configuration: every option, its default and its validation, in one place.
import { z } from 'zod';
import { DefaultLimits } from '../protocol/index.js';
import { LocationError, parseMetaLocation, parseStoreLocation } from '../stores/locations.js';
import { parseHostPort } from './metrics-listener.js';

export const ServerConfig = z
  .object({
    port: z.number().int().min(0).max(65535).default(8080),
    /** Loopback by default: exposing the server is a decision (--host 0.0.0.0), and brings token mode. */
    host: z.string().default('127.0.0.1'),
    /**
     * 'open': no credential needed (everyone is the admin 'anonymous'); 'token': every request but
     * health checks and the page's assets needs an API key or a signed grant. Default: open on a
     * loopback address, token on any other.
     */
    auth: z.enum(['open', 'token']).optional(),
    /** Needed to run open mode on a non-loopback address. */
    allowPublicOpen: z.boolean().default(false),
    /** Secrets that verify signed grants, by key id (several at once for rotation); each 32+ bytes. */
    grantSecrets: z.array(z.object({ kid: z.string().min(1), secret: z.string().min(32, 'grant secrets need at least 32 characters') })).default([]),
    /** Longest lifetime of a share link the server signs. */
    maxShareSeconds: z.number().positive().default(90 * 24 * 60 * 60),
    /** Finished files are deleted this long after they were completed (default: kept). */
    fileTtlSeconds: z.number().positive().optional(),
    /** Origins whose pages may call the API from a browser (CORS); '*' for any. */
    corsOrigins: z.array(z.string()).default([]),
    /** Endpoints that receive event webhooks (Standard Webhooks format). */
    webhooks: z.array(z.string().url()).default([]),
    /** The signing secret of the webhooks ("whsec_" + base64, as Standard Webhooks libraries take it). */
    webhookSecret: z.string().optional(),
    /** One delivery attempt's time limit. */
    webhookTimeoutSeconds: z.number().positive().default(10),
    /** A delivery is retried with backoff until it is this old, then dropped (and logged). */
    webhookRetrySeconds: z.number().positive().default(24 * 60 * 60),
    /** Waits between delivery attempts of a webhook; the last repeats until webhookRetrySeconds is reached. */
    webhookBackoffSeconds: z.array(z.number().positive()).min(1).default([5, 10, 30, 60, 120, 300, 600, 1800, 3600]),
    /** An HTTP endpoint asked before every upload is created; it may refuse it or add metadata. */
    preCreateHook: z.string().url().optional(),
    /** Holds meta.sqlite (metadata) and uploads/ + files/ (bytes), unless meta and store say otherwise. */
    dataDir: z.string().default('./ferry-data'),
    /** The metadata store: a postgres:// URL (shared by every node); default: SQLite in the data directory. */
    meta: z.string().superRefine(refineLocation(parseMetaLocation)).optional(),
    /** The blob store: s3://bucket/prefix (shared by every node); default: files in the data directory. */
    store: z.string().superRefine(refineLocation(parseStoreLocation)).optional(),
    /** The S3 service's URL (MinIO, Ceph RGW, R2...); default: AWS for the region. */
    s3Endpoint: z.string().url().optional(),
    s3Region: z.string().min(1).default('us-east-1'),
    /** Address buckets as endpoint/bucket rather than bucket.endpoint (most S3 look-alikes need it). */
    s3PathStyle: z.boolean().default(false),
    /** Most PostgreSQL connections this node keeps (with --meta postgres://). */
    metaPoolSize: z.number().int().min(1).max(1000).default(10),
    /** fsync chunk bytes before acknowledging them (and the file at completion). */
    fsync: z.boolean().default(true),
    /** Absolute base URL of links in responses; without it, see baseUrl() in http.ts (never an unknown Host). */
    publicUrl: z.string().url().optional(),
    minChunkSize: z.number().int().positive().default(DefaultLimits.minChunkSize),
    defaultChunkSize: z.number().int().positive().default(DefaultLimits.defaultChunkSize),
    maxChunkSize: z.number().int().positive().default(DefaultLimits.maxChunkSize),
    maxChunks: z.number().int().positive().default(DefaultLimits.maxChunks),
    maxFileSize: z.number().int().nonnegative().default(DefaultLimits.maxFileSize),
    /** An incomplete upload expires this long after its last chunk (or its creation). */
    uploadTtlSeconds: z.number().positive().default(DefaultLimits.uploadTtlSeconds),
    /** How long an expired or aborted upload still answers status with its state before it is 404. */
    tombstoneSeconds: z.number().nonnegative().default(7 * 24 * 60 * 60),
    sweepIntervalSeconds: z.number().positive().default(60),
    /** Whole-request limit (a chunk must arrive within it). */
    requestTimeoutSeconds: z.number().positive().default(15 * 60),
    /** A connection with no bytes moving for this long is closed. */
    idleTimeoutSeconds: z.number().positive().default(60),
    /**
     * A chunk PUT whose body has not moved for this long gives way to a new PUT of the same chunk with
     * the same digest (a client retrying over a connection that died without a reset).
     */
    chunkTakeoverSeconds: z.number().nonnegative().default(2),
    /** Storage no upload names is freed once this old (another node may be about to write its row). */
    orphanGraceSeconds: z.number().nonnegative().default(10 * 60),
    /** host:port where GET /metrics is served without credentials (a private network); the main listener then answers 404 there. */
    metricsAddress: z.string().refine((a) => parseHostPort(a) !== null, 'metricsAddress must be host:port (e.g. 127.0.0.1:9464, [::1]:9464)').optional(),
    /** Uploads in progress one identity may have at once (one client address in open mode): 429 beyond. */
    maxOpenUploads: z.number().int().positive().default(1000),
    /** Declared bytes of one identity's uploads in progress (one client address in open mode): 429 beyond. */
    maxReservedBytes: z.number().int().positive().default(1024 ** 4),
    /** Declared bytes of everyone's uploads in progress (default: no limit but the disk's free space): 507 beyond. */
    maxReservedBytesTotal: z.number().int().positive().optional(),
    /** Free space kept on the data volume at create (default: 1 GiB, or 5% of the volume if that is less): 507 beyond. */
    minFreeSpace: z.number().int().nonnegative().optional(),
    /** Requests per second one identity may make, on average (one client address in open mode); 0: no limit. */
    rateLimit: z.number().nonnegative().default(100),
    /** Requests one identity may make at once above the rate (default: two seconds' worth). */
    rateBurst: z.number().int().positive().optional(),
    /** Connections open at once; more are closed as they are accepted. */
    maxConnections: z.number().int().positive().default(1024),
    /**
     * Connections open at once from one client address (0: no such cap). Default 64, but none with
     * trustProxy: behind a reverse proxy every connection comes from the proxy's address.
     */
    maxConnectionsPerAddress: z.number().int().nonnegative().optional(),
    /** A keep-alive connection with no request for this long is closed; never longer than idleTimeoutSeconds (60 s), which bounds it. */
    keepAliveTimeoutSeconds: z.number().positive().default(5),
    /** A request's headers (a new connection's first request too) must arrive within this long: 408. */
    headersTimeoutSeconds: z.number().positive().default(10),
    /** A request body that brings fewer bytes per second than this over a whole window is answered 408 (0: off). */
    minBodyRate: z.number().nonnegative().default(1024),
    minBodyRateWindowSeconds: z.number().positive().default(30),
    /** Bytes of read buffers all file downloads together may hold; a download waits for room beyond. */
    responseBufferBudget: z.number().int().min(64 * 1024, 'the response-buffer budget must be at least 64 KiB').default(64 * 1024 * 1024),
    /** Downloads one identity may have open at once (one client address in open mode or by share link): 429 beyond. */
    maxDownloadsPerIdentity: z.number().int().positive().default(32),
    /**
     * Believe a proxy in front: links take X-Forwarded-Proto/X-Forwarded-Host (when there is no
     * publicUrl) and an incoming X-Request-Id is kept. Off: a client could set them to anything.
     */
    trustProxy: z.boolean().default(false),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .refine((c) => c.minChunkSize <= c.defaultChunkSize && c.defaultChunkSize <= c.maxChunkSize, {
    message: 'need minChunkSize <= defaultChunkSize <= maxChunkSize',
  })
  .refine((c) => (c.webhooks.length === 0 && c.preCreateHook === undefined) || c.webhookSecret !== undefined, {
    message: 'webhooks and the pre-create hook need a webhook secret (--webhook-secret / FERRY_WEBHOOK_SECRET)',
  })
  .transform((c) => ({ ...c, auth: c.auth ?? (isLoopback(c.host) ? ('open' as const) : ('token' as const)) }))
  .refine((c) => c.auth === 'token' || isLoopback(c.host) || c.allowPublicOpen, {
    message: 'open mode on a non-loopback address lets anyone read and fill the server; use --auth token, or add --i-know-this-is-public',
  });

/** A zod check from a location parser: its error, which names the option, as the issue. */
function refineLocation(parse: (text: string) => unknown) {
  return (text: string, ctx: z.RefinementCtx): void => {
    try {
      parse(text);
    } catch (error) {
      if (!(error instanceof LocationError)) throw error;
      ctx.addIssue({ code: 'custom', message: error.message });
    }
  };
}

export type ServerConfig = z.output<typeof ServerConfig>;
export type ServerConfigInput = z.input<typeof ServerConfig>;

/** Whether `host` only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::ffff:127.0.0.1';
}

export function parseServerConfig(input: ServerConfigInput): ServerConfig {
  return ServerConfig.parse(input);
}
