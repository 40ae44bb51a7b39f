// Server configuration: every option, its default and its validation, in one place.
import { z } from 'zod';
import { DefaultLimits } from '../protocol/index.js';

export const ServerConfig = z
  .object({
    port: z.number().int().min(0).max(65535).default(8080),
    host: z.string().default('0.0.0.0'),
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
  });

export type ServerConfig = z.output<typeof ServerConfig>;
export type ServerConfigInput = z.input<typeof ServerConfig>;

export function parseServerConfig(input: ServerConfigInput): ServerConfig {
  return ServerConfig.parse(input);
}
