// Server configuration: every option, its default and its validation, in one place.
import { z } from 'zod';
import { DefaultLimits } from '../protocol/index.js';

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
    /** Holds meta.sqlite (metadata) and uploads/ + files/ (bytes). */
    dataDir: z.string().default('./ferry-data'),
    /** fsync chunk bytes before acknowledging them (and the file at completion). */
    fsync: z.boolean().default(true),
    /** Absolute base URL used in uploadUrl/fileUrl; by default derived from the request's Host. */
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
