// Metadata on PostgreSQL (pg): the store several Ferry nodes share; every decision is one transaction or one conditional statement.
import pg from 'pg';
import type { Logger } from 'pino';
import { FerryError, type UploadState } from '../../protocol/index.js';
import { passedLimit, reservedBytes } from '../reservations.js';
import type {
  AdvanceResult,
  ApiKeyRecord,
  ChunkRecord,
  FileQuery,
  FileRecord,
  GrantUsage,
  IndexRange,
  MetaStore,
  RecordChunkResult,
  ReservationLimits,
  ReservationResult,
  Reservations,
  StagedChunk,
  StoredManifest,
  StreamStep,
  TransitionPatch,
  UploadRecord,
  WebhookDelivery,
} from '../types.js';
import { streamWriterClaim } from '../held-claim.js';
import { connectionError, targetOf, type PostgresTarget } from './errors.js';
import { OutcomeUnknownError, isConnectionLoss, withRetries, type RetryOptions } from './retry.js';
import { migrate } from './schema.js';
import {
  checkStreamStep,
  checkStreamStepFits,
  deliveryColumns,
  endedStates,
  filePosition,
  fromDeliveryRow,
  fromFile,
  fromUpload,
  toApiKey,
  toChunk,
  toDeliveryRow,
  toFile,
  toUpload,
  type ApiKeyRow,
  type ChunkRow,
  type DeliveryRow,
  type FileRow,
  type UploadRow,
} from '../sql-rows.js';


export interface PostgresMetaStoreOptions {
  /** Connections in the pool (default 10). */
  poolSize?: number;
  /** Clock for claim and lease expiry and updated_at (this node's); Date.now by default. */
  now?: () => number;
  /** Where retries and dropped idle connections are reported. */
  log?: Logger;
}

export type PostgresMetaStore = MetaStore & {
  /** Checks the database answers; throws an Error with one clear line (unreachable, login refused, no such database). */
  ping(): Promise<void>;
};

/**
 * Connects to the database at `url` (postgres://user:password@host:port/db), creates or migrates
 * the schema, and returns the store. Fails with one clear line when the database cannot be used.
 */
export async function openPostgresMetaStore(url: string, options: PostgresMetaStoreOptions = {}): Promise<PostgresMetaStore> {
  const target = targetOf(url);
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    types: { getTypeParser },
    application_name: 'ferry',
    // Unset, pg waits for ever on a host that drops packets.
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
    // A node that stalls inside a transaction (it never should: no I/O but the database's happens
    // there) holds its row locks: the server ends such a session after this.
    idle_in_transaction_session_timeout: 30_000,
  });
  // A pooled idle connection that breaks (server restart, failover) must not crash the process;
  // the pool drops it and opens another on the next checkout.
  pool.on('error', (error) => options.log?.warn({ event: 'postgres-idle-connection-lost', err: error.message }, 'PostgreSQL dropped an idle connection'));
  try {
    const client = await pool.connect();
    try {
      await migrate(client);
    } finally {
      client.release();
    }
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw connectionError(error, target);
  }
  return new PgMetaStore(pool, target, options.now ?? Date.now, { log: options.log });
}

/** bigint (sizes, times) as JS numbers: exact up to 2^53, and refused beyond rather than rounded. */
function parseBigint(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new Error(`PostgreSQL returned ${text}, beyond exact JS numbers`);
  return n;
}

const getTypeParser = ((oid: number, format?: 'text' | 'binary') =>
  oid === pg.types.builtins.INT8 ? parseBigint : pg.types.getTypeParser(oid, format ?? 'text')) as pg.CustomTypesConfig['getTypeParser'];

function ignoreError(): void {}

/** Advisory lock classes (first int4 of the two-key form) for create-time reservation checks. */
const quotaKeyLock = 0x46525259; // "FRRY": one lock per reservation key (hashed)
const quotaTotalLock = quotaKeyLock + 1; // one lock for the totals everyone shares

/** What an upload in progress reserves, in SQL (see reservedBytes()). */
const reservedSql = 'CASE WHEN length_deferred THEN LEAST(size, bytes_received + chunk_size) ELSE size END';

const uploadColumns =
  'id, state, name, size, chunk_size, total_chunks, algorithm, file_digest, metadata, blob_handle, chunks_received, bytes_received, created_at, updated_at, expires_at, file_id, owner, grant_id, quota_key, ' +
  'protocol, role, length_deferred, staged_bytes, concat_of';
const fileColumns = 'id, upload_id, name, size, chunk_size, total_chunks, algorithm, file_digest, etag, metadata, blob_ref, created_at, owner';

/**
 * Every statement, by name: each runs as a named prepared statement (parsed once per connection).
 * Parameters are cast where PostgreSQL could not infer their type.
 */
const SQL = {
  insertUpload: `INSERT INTO uploads (${uploadColumns})
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)`,
  insertGap: 'INSERT INTO upload_gaps (upload_id, first_idx, last_idx) VALUES ($1, $2, $3)',
  // The webhook rows of a change, any number in one statement (arrays unnested side by side).
  insertDeliveries: `INSERT INTO webhook_outbox (${deliveryColumns.join(', ')})
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::int[], $7::bigint[])
    ON CONFLICT (event_id, endpoint) DO NOTHING`,
  // Locks on the reservation key and, when a total is limited, on the totals: creates that could
  // pass the same limit wait for each other (always key first, then totals: no lock cycle).
  lockQuotaKey: `SELECT pg_advisory_xact_lock(${quotaKeyLock}, hashtext($1))`,
  lockQuotaTotal: `SELECT pg_advisory_xact_lock(${quotaTotalLock}, 0)`,
  reservations: `SELECT count(*) FILTER (WHERE quota_key = $1) AS uploads,
      COALESCE(sum(${reservedSql}) FILTER (WHERE quota_key = $1), 0)::bigint AS bytes,
      COALESCE(sum(${reservedSql}), 0)::bigint AS total_bytes,
      COALESCE(sum(${reservedSql} - bytes_received), 0)::bigint AS pending_bytes
    FROM uploads WHERE state = 'uploading'`,
  getUpload: `SELECT ${uploadColumns} FROM uploads WHERE id = $1`,
  deleteUpload: 'DELETE FROM uploads WHERE id = $1',
  listChunks: 'SELECT idx, size, digest, receipt FROM chunks WHERE upload_id = $1 ORDER BY idx',
  listChunkPage: 'SELECT idx, size, digest, receipt FROM chunks WHERE upload_id = $1 AND idx >= $2 ORDER BY idx LIMIT $3',
  listGaps: 'SELECT first_idx, last_idx FROM upload_gaps WHERE upload_id = $1 AND first_idx > $2 ORDER BY first_idx LIMIT $3',
  getChunk: 'SELECT idx, size, digest, receipt FROM chunks WHERE upload_id = $1 AND idx = $2',
  // recordChunk, step 1: the upload's state, its row locked until commit (so chunks of one upload are
  // recorded one after another, and a transition waits for them).
  lockForChunk: 'SELECT state FROM uploads WHERE id = $1 FOR NO KEY UPDATE',
  // Step 1b, a statement of its own: read after the upload's lock is held, so a takeover committed
  // while this waited is seen (a join in the locking statement would answer from the snapshot taken
  // before the wait); locked, so no takeover commits between this check and the record.
  chunkClaim: 'SELECT token FROM chunk_claims WHERE upload_id = $1 AND idx = $2 FOR UPDATE',
  // Step 2: the chunk row; a chunk already there is left alone (per-chunk uniqueness).
  insertChunk: `INSERT INTO chunks (upload_id, idx, size, digest, receipt) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (upload_id, idx) DO NOTHING RETURNING idx`,
  // Step 3: index $2 has arrived: the gap holding it (the last one starting at or before it) goes,
  // and what is left of it on either side comes back; then the counters and the expiry. A whole chunk is
  // in: nothing of the next one is staged yet (stream uploads; always 0 for Ferry's own), and what a cut
  // writer had staged for this one is used up (Ferry's own; its claim row stays until its writer releases it).
  countChunk: `WITH g AS (
      SELECT first_idx, last_idx FROM upload_gaps WHERE upload_id = $1 AND first_idx <= $2::int ORDER BY first_idx DESC LIMIT 1
    ), gone AS (
      DELETE FROM upload_gaps x USING g
      WHERE x.upload_id = $1 AND x.first_idx = g.first_idx AND g.last_idx >= $2::int
      RETURNING g.first_idx, g.last_idx
    ), rest AS (
      INSERT INTO upload_gaps (upload_id, first_idx, last_idx)
      SELECT $1, s.f, s.l FROM gone CROSS JOIN LATERAL (VALUES (gone.first_idx, $2::int - 1), ($2::int + 1, gone.last_idx)) AS s (f, l)
      WHERE s.f <= s.l
    ), unstaged AS (
      UPDATE chunk_claims SET staged_bytes = 0 WHERE upload_id = $1 AND idx = $2::int AND staged_bytes > 0
    )
    UPDATE uploads SET chunks_received = chunks_received + 1, bytes_received = bytes_received + $3::bigint, staged_bytes = 0,
      updated_at = $4, expires_at = $5
    WHERE id = $1 RETURNING chunks_received, bytes_received`,
  // advanceStream, step 1: the whole upload row, locked until commit as recordChunk locks it (then the
  // writer's claim, as chunkClaim, and the chunks, as insertChunk and countChunk).
  lockForStream: `SELECT ${uploadColumns} FROM uploads WHERE id = $1 FOR NO KEY UPDATE`,
  // Whether any chunk row from index $2 on exists (a stream's next chunks must all be new).
  chunkFrom: 'SELECT 1 FROM chunks WHERE upload_id = $1 AND idx >= $2 LIMIT 1',
  // A deferred length now known: gaps past the new last chunk ($2) go, one reaching past it ends there.
  trimGaps: `WITH dropped AS (DELETE FROM upload_gaps WHERE upload_id = $1 AND first_idx > $2::int)
    UPDATE upload_gaps SET last_idx = $2::int WHERE upload_id = $1 AND first_idx <= $2::int AND last_idx > $2::int`,
  // Last step: what is staged, the expiry, and (with $5, $6) size and chunk count; the row after it.
  advanceStream: `UPDATE uploads SET staged_bytes = $2, updated_at = $3, expires_at = $4,
      size = COALESCE($5::bigint, size), total_chunks = COALESCE($6::int, total_chunks),
      length_deferred = length_deferred AND $5::bigint IS NULL
    WHERE id = $1 RETURNING ${uploadColumns}`,
  // One statement: take the claim when it is free, expired, or already ours.
  claim: `INSERT INTO chunk_claims (upload_id, idx, token, expires_at) VALUES ($1, $2, $3, $4)
    ON CONFLICT (upload_id, idx) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at
    WHERE chunk_claims.token = excluded.token OR chunk_claims.expires_at <= $5`,
  renew: 'UPDATE chunk_claims SET expires_at = $4 WHERE upload_id = $1 AND idx = $2 AND token = $3',
  release: 'DELETE FROM chunk_claims WHERE upload_id = $1 AND idx = $2 AND token = $3',
  stagedBytes: 'SELECT staged_bytes FROM chunk_claims WHERE upload_id = $1 AND idx = $2',
  // A cut writer keeps its bytes and gives the claim up: no holder ('' matches no writer's token, so its
  // late release or renewal finds nothing) and expired, so the next claim takes the row, count and all.
  keepStaged: `UPDATE chunk_claims SET staged_bytes = $4, token = '', expires_at = 0
    WHERE upload_id = $1 AND idx = $2 AND token = $3`,
  // A chunk recorded since is left out (a writer may have kept bytes of a chunk another one recorded).
  listStaged: `SELECT idx, staged_bytes FROM chunk_claims c
    WHERE upload_id = $1 AND idx >= 0 AND staged_bytes > 0
      AND NOT EXISTS (SELECT 1 FROM chunks k WHERE k.upload_id = c.upload_id AND k.idx = c.idx)
    ORDER BY idx LIMIT $2`,
  lease: `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
    ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
    WHERE leases.holder = excluded.holder OR leases.expires_at <= $4`,
  releaseLease: 'DELETE FROM leases WHERE name = $1 AND holder = $2',
  // Conditional: a concurrent transition waits for the row, then finds the state changed and does nothing.
  // With $6 (dueBy): only an upload due for expiry then (expired by that time, a chunk still missing, or
  // one that never completes by itself: a partial upload, a deferred length; see listUnfinished),
  // checked against the row as it is once locked, so a chunk recorded meanwhile keeps it alive.
  transition: `UPDATE uploads SET state = $3, file_id = COALESCE($4, file_id), updated_at = $5
    WHERE id = $1 AND state = ANY ($2::text[])
      AND ($6::bigint IS NULL OR (expires_at <= $6::bigint AND (chunks_received < total_chunks OR role = 'part' OR length_deferred)))`,
  forgetClaims: 'DELETE FROM chunk_claims WHERE upload_id = $1',
  forgetChunks: `WITH c AS (DELETE FROM chunks WHERE upload_id = $1), k AS (DELETE FROM chunk_claims WHERE upload_id = $1)
    DELETE FROM upload_gaps WHERE upload_id = $1`,
  insertFile: `INSERT INTO files (${fileColumns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
  getFile: `SELECT ${fileColumns} FROM files WHERE id = $1`,
  deleteFileRow: `DELETE FROM files WHERE id = $1 RETURNING ${fileColumns}`,
  // Only for a file that exists (no row, no answer), so a manifest cannot outlive its file.
  putManifestPart: `INSERT INTO manifest_parts (file_id, part, data) SELECT $1, $2::int, $3::bytea WHERE EXISTS (SELECT 1 FROM files WHERE id = $1)
    ON CONFLICT (file_id, part) DO UPDATE SET data = excluded.data`,
  sealManifest: `INSERT INTO manifests (file_id, parts, bytes) SELECT $1, $2::int, $3::bigint WHERE EXISTS (SELECT 1 FROM files WHERE id = $1)
    ON CONFLICT (file_id) DO UPDATE SET parts = excluded.parts, bytes = excluded.bytes`,
  getManifest: 'SELECT parts, bytes FROM manifests WHERE file_id = $1',
  getManifestPart: 'SELECT data FROM manifest_parts WHERE file_id = $1 AND part = $2',
  // A page after a (created_at, id) position: a row-value range, walked on the (owner,) created_at, id index.
  listFiles: `SELECT ${fileColumns} FROM files WHERE (created_at, id) < ($1::bigint, $2::text) ORDER BY created_at DESC, id DESC LIMIT $3`,
  listOwnerFiles: `SELECT ${fileColumns} FROM files WHERE owner = $4 AND (created_at, id) < ($1::bigint, $2::text)
    ORDER BY created_at DESC, id DESC LIMIT $3`,
  insertKey: `INSERT INTO api_keys (id, secret_hash, identity, role, label, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
  getKey: 'SELECT id, secret_hash, identity, role, label, created_at, revoked_at FROM api_keys WHERE id = $1',
  listKeys: 'SELECT id, secret_hash, identity, role, label, created_at, revoked_at FROM api_keys ORDER BY created_at, id',
  revokeKey: 'UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL',
  // Takes the budget only when the result stays within the limits; the row after it tells what was used before.
  reserveGrant: `INSERT INTO grant_usage (grant_id, bytes, files, expires_at)
    SELECT $1::text, $2::bigint, 1, $5::bigint WHERE $2::bigint <= $3::bigint AND ($4::int IS NULL OR $4::int >= 1)
    ON CONFLICT (grant_id) DO UPDATE SET bytes = grant_usage.bytes + excluded.bytes, files = grant_usage.files + 1
    WHERE grant_usage.bytes + excluded.bytes <= $3::bigint AND ($4::int IS NULL OR grant_usage.files + 1 <= $4::int)
    RETURNING bytes, files`,
  grantUsage: 'SELECT bytes, files FROM grant_usage WHERE grant_id = $1',
  releaseGrant: 'UPDATE grant_usage SET bytes = GREATEST(0, bytes - $2), files = GREATEST(0, files - $3) WHERE grant_id = $1',
  purgeGrants: 'DELETE FROM grant_usage WHERE expires_at < $1',
  insertSecret: 'INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING',
  getSecret: 'SELECT value FROM secrets WHERE name = $1',
  // Due deliveries no other node is claiming right now (SKIP LOCKED), leased in the same statement;
  // each comes back as it was before the lease.
  claimDeliveries: `WITH due AS (
      SELECT event_id, endpoint, next_attempt_at FROM webhook_outbox WHERE next_attempt_at <= $1
      ORDER BY next_attempt_at, created_at LIMIT $3 FOR UPDATE SKIP LOCKED
    ), leased AS (
      UPDATE webhook_outbox o SET next_attempt_at = $2 FROM due
      WHERE o.event_id = due.event_id AND o.endpoint = due.endpoint
      RETURNING o.event_id, o.endpoint, o.type, o.payload, o.created_at, o.attempts, due.next_attempt_at
    )
    SELECT * FROM leased ORDER BY next_attempt_at, created_at`,
  deleteDelivery: 'DELETE FROM webhook_outbox WHERE event_id = $1 AND endpoint = $2',
  failDelivery: 'UPDATE webhook_outbox SET attempts = attempts + 1, next_attempt_at = $3, last_error = $4 WHERE event_id = $1 AND endpoint = $2',
  listDue: `SELECT ${uploadColumns} FROM uploads WHERE state = $1 AND expires_at < $2 ORDER BY expires_at, id LIMIT $3`,
  // On the partial index uploads_unfinished (same predicate): partial uploads and deferred lengths never complete by themselves.
  listUnfinished: `SELECT ${uploadColumns} FROM uploads
    WHERE (state = 'completing' OR (state = 'uploading' AND chunks_received = total_chunks)) AND role = 'file' AND NOT length_deferred
    ORDER BY updated_at, id LIMIT $1`,
  ping: 'SELECT 1',
} as const;

/** The statements' text, for tests that check their plans (EXPLAIN (GENERIC_PLAN)). */
export const statements: Readonly<Record<Statement, string>> = SQL;

type Statement = keyof typeof SQL;
type Queryable = Pick<pg.ClientBase, 'query'>;

function run<R extends pg.QueryResultRow>(on: Queryable, name: Statement, values: unknown[] = []): Promise<pg.QueryResult<R>> {
  return on.query<R>({ name: `ferry_${name}`, text: SQL[name], values });
}

/** Use openPostgresMetaStore(); the constructor expects a pool over a migrated database. */
class PgMetaStore implements PostgresMetaStore {
  readonly #pool: pg.Pool;
  readonly #target: PostgresTarget;
  readonly #now: () => number;
  readonly #retry: RetryOptions;
  #closed: Promise<void> | undefined;

  constructor(pool: pg.Pool, target: PostgresTarget, now: () => number, retry: RetryOptions) {
    this.#pool = pool;
    this.#target = target;
    this.#now = now;
    this.#retry = retry;
  }

  /**
   * One statement on any pooled connection, retried when it fails transiently. For reads, and for
   * writes that give the same answer when made twice (a replay after a lost reply changes nothing).
   */
  #q<R extends pg.QueryResultRow>(name: Statement, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    return withRetries(() => run<R>(this.#pool, name, values), this.#retry);
  }

  /**
   * `body` inside BEGIN ... COMMIT on one connection, retried as a whole when it fails transiently
   * (the server rolled it back). Not when the connection is lost during COMMIT: then the outcome
   * is unknown and making the change twice could be wrong (OutcomeUnknownError).
   */
  #tx<T>(body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return withRetries(async () => {
      const client = await this.#pool.connect();
      // pg-pool listens for 'error' on idle clients only: a backend ended while this one is checked out
      // but between statements would emit an 'error' nobody hears, which crashes the process. The next
      // statement fails with the loss, and the retry takes it from there.
      client.on('error', ignoreError);
      let lost = false;
      try {
        await client.query('BEGIN');
        const result = await body(client);
        try {
          await client.query('COMMIT');
        } catch (error) {
          if (!isConnectionLoss(error)) throw error;
          lost = true;
          throw new OutcomeUnknownError(error);
        }
        return result;
      } catch (error) {
        if (!lost && isConnectionLoss(error)) lost = true;
        if (!lost) await client.query('ROLLBACK').catch(() => (lost = true));
        throw error;
      } finally {
        client.removeListener('error', ignoreError);
        // A broken connection is closed, not given back to the pool.
        client.release(lost);
      }
    }, this.#retry);
  }

  async ping(): Promise<void> {
    try {
      // Retried too: a pooled connection the server has since closed says nothing about the server now.
      await withRetries(() => run(this.#pool, 'ping'), { attempts: 3 });
    } catch (error) {
      throw connectionError(error, this.#target);
    }
  }

  async createUpload(upload: UploadRecord, events: WebhookDelivery[] = []): Promise<void> {
    const row = fromUpload(upload);
    await this.#tx((c) => insertUpload(c, row, events));
  }

  async reservations(key: string): Promise<Reservations> {
    return reservedFrom((await this.#q<ReservationRow>('reservations', [key])).rows[0]!);
  }

  async createUploadWithin(upload: UploadRecord, limits: ReservationLimits, events: WebhookDelivery[] = []): Promise<ReservationResult> {
    const row = { ...fromUpload(upload), quota_key: limits.key };
    return this.#tx(async (c): Promise<ReservationResult> => {
      // Read and insert under the locks: no other create counted under the same key (or, with a
      // total limited, no other create at all) can slip in between.
      await run(c, 'lockQuotaKey', [limits.key]);
      if (limits.maxTotalBytes !== null || limits.maxPendingBytes !== null) await run(c, 'lockQuotaTotal');
      const reserved = reservedFrom((await run<ReservationRow>(c, 'reservations', [limits.key])).rows[0]!);
      const limit = passedLimit(reserved, reservedBytes(upload), limits);
      if (limit) return { ok: false, limit, reserved };
      await insertUpload(c, row, events);
      return { ok: true, reserved };
    });
  }

  async getUpload(uploadId: string): Promise<UploadRecord | undefined> {
    const row = (await this.#q<UploadRow>('getUpload', [uploadId])).rows[0];
    return row && toUpload(row);
  }

  async listChunks(uploadId: string, page?: { from: number; limit: number }): Promise<ChunkRecord[]> {
    const result = page ? await this.#q<ChunkRow>('listChunkPage', [uploadId, page.from, page.limit]) : await this.#q<ChunkRow>('listChunks', [uploadId]);
    return result.rows.map(toChunk);
  }

  async listMissing(uploadId: string, after: number, limit: number): Promise<IndexRange[]> {
    const { rows } = await this.#q<{ first_idx: number; last_idx: number }>('listGaps', [uploadId, after, limit]);
    return rows.map((g) => ({ first: g.first_idx, last: g.last_idx }));
  }

  async getChunk(uploadId: string, index: number): Promise<ChunkRecord | undefined> {
    const row = (await this.#q<ChunkRow>('getChunk', [uploadId, index])).rows[0];
    return row && toChunk(row);
  }

  // Claims, renewals, releases and leases answer the same when replayed by the same token: one statement each.
  async claimChunk(uploadId: string, index: number, token: string, expiresAt: number): Promise<boolean> {
    return ((await this.#q('claim', [uploadId, index, token, expiresAt, this.#now()])).rowCount ?? 0) > 0;
  }

  async renewChunk(uploadId: string, index: number, token: string, expiresAt: number): Promise<boolean> {
    return ((await this.#q('renew', [uploadId, index, token, expiresAt])).rowCount ?? 0) > 0;
  }

  async releaseChunk(uploadId: string, index: number, token: string): Promise<void> {
    await this.#q('release', [uploadId, index, token]);
  }

  async stagedBytes(uploadId: string, index: number): Promise<number> {
    return (await this.#q<{ staged_bytes: number }>('stagedBytes', [uploadId, index])).rows[0]?.staged_bytes ?? 0;
  }

  // In a transaction, not #q: replayed after a lost reply, the statement would find the token gone and
  // answer false for a count that was kept. A COMMIT whose reply is lost fails as OutcomeUnknownError.
  async keepStaged(uploadId: string, index: number, token: string, bytes: number): Promise<boolean> {
    return this.#tx(async (c) => ((await run(c, 'keepStaged', [uploadId, index, token, bytes])).rowCount ?? 0) > 0);
  }

  async listStaged(uploadId: string, limit: number): Promise<StagedChunk[]> {
    const { rows } = await this.#q<{ idx: number; staged_bytes: number }>('listStaged', [uploadId, limit]);
    return rows.map((r) => ({ index: r.idx, bytes: r.staged_bytes }));
  }

  async recordChunk(uploadId: string, chunk: ChunkRecord, expiresAt: number, claimToken?: string): Promise<RecordChunkResult> {
    return this.#tx(async (c): Promise<RecordChunkResult> => {
      const head = (await run<{ state: UploadState }>(c, 'lockForChunk', [uploadId])).rows[0];
      if (!head) throw new FerryError('upload-not-found', `No upload ${uploadId}.`);
      if (head.state !== 'uploading') return { outcome: 'closed', state: head.state };
      const stored = async (): Promise<ChunkRecord | undefined> => {
        const row = (await run<ChunkRow>(c, 'getChunk', [uploadId, chunk.index])).rows[0];
        return row && toChunk(row);
      };
      const claimHeld = async () => (await run<{ token: string }>(c, 'chunkClaim', [uploadId, chunk.index])).rows[0]?.token === claimToken;
      if (claimToken !== undefined && !(await claimHeld())) {
        const existing = await stored();
        return existing ? { outcome: 'exists', existing } : { outcome: 'claim-lost' };
      }
      const inserted = await run(c, 'insertChunk', [uploadId, chunk.index, chunk.size, chunk.digest, chunk.receipt]);
      if (inserted.rowCount === 0) return { outcome: 'exists', existing: (await stored())! };
      const counts = (await run<{ chunks_received: number; bytes_received: number }>(c, 'countChunk', [uploadId, chunk.index, chunk.size, this.#now(), expiresAt]))
        .rows[0]!;
      return { outcome: 'recorded', chunksReceived: counts.chunks_received, bytesReceived: counts.bytes_received };
    });
  }

  async advanceStream(uploadId: string, step: StreamStep): Promise<AdvanceResult> {
    checkStreamStep(step);
    return this.#tx(async (c): Promise<AdvanceResult> => {
      const row = (await run<UploadRow>(c, 'lockForStream', [uploadId])).rows[0];
      if (!row) return { outcome: 'closed', state: undefined };
      if (row.state !== 'uploading') return { outcome: 'closed', state: row.state };
      if ((await run<{ token: string }>(c, 'chunkClaim', [uploadId, streamWriterClaim])).rows[0]?.token !== step.claimToken) return { outcome: 'claim-lost' };
      const upload = toUpload(row);
      if (upload.chunksReceived !== step.from.chunksReceived || upload.stagedBytes !== step.from.stagedBytes) return { outcome: 'moved', upload };
      checkStreamStepFits(upload, step);
      // A chunk row already there: another writer got further than these counters say. Checked before
      // anything is written, so nothing changes.
      if (step.chunks.length > 0 && ((await run(c, 'chunkFrom', [uploadId, step.from.chunksReceived])).rowCount ?? 0) > 0) return { outcome: 'moved', upload };
      const now = this.#now();
      for (const chunk of step.chunks) {
        const inserted = await run(c, 'insertChunk', [uploadId, chunk.index, chunk.size, chunk.digest, chunk.receipt]);
        if (inserted.rowCount === 0) throw new Error(`advanceStream: chunk ${chunk.index} of upload ${uploadId} appeared under the upload's lock`);
        await run(c, 'countChunk', [uploadId, chunk.index, chunk.size, now, step.expiresAt]);
      }
      if (step.length) await run(c, 'trimGaps', [uploadId, step.length.totalChunks - 1]);
      const after = (
        await run<UploadRow>(c, 'advanceStream', [uploadId, step.stagedBytes, now, step.expiresAt, step.length?.size ?? null, step.length?.totalChunks ?? null])
      ).rows[0]!;
      return { outcome: 'advanced', upload: toUpload(after) };
    });
  }

  async claimLease(name: string, holder: string, expiresAt: number): Promise<boolean> {
    return ((await this.#q('lease', [name, holder, expiresAt, this.#now()])).rowCount ?? 0) > 0;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.#q('releaseLease', [name, holder]);
  }

  async transition(uploadId: string, from: UploadState[], to: UploadState, patch: TransitionPatch = {}, events: WebhookDelivery[] = []): Promise<boolean> {
    return this.#tx(async (c) => {
      const changed = ((await run(c, 'transition', [uploadId, from, to, patch.fileId ?? null, this.#now(), patch.dueBy ?? null])).rowCount ?? 0) > 0;
      if (changed) await enqueue(c, events);
      // Claims mean something only while chunks or the completion may still be written.
      if (changed && endedStates.has(to)) await run(c, 'forgetClaims', [uploadId]);
      return changed;
    });
  }

  async forgetChunks(uploadId: string): Promise<void> {
    await this.#q('forgetChunks', [uploadId]);
  }

  async createFile(file: FileRecord): Promise<void> {
    const f = fromFile(file);
    await this.#tx((c) =>
      run(c, 'insertFile', [f.id, f.upload_id, f.name, f.size, f.chunk_size, f.total_chunks, f.algorithm, f.file_digest, f.etag, f.metadata, f.blob_ref, f.created_at, f.owner]),
    );
  }

  async getFile(fileId: string): Promise<FileRecord | undefined> {
    const row = (await this.#q<FileRow>('getFile', [fileId])).rows[0];
    return row && toFile(row);
  }

  async putManifestPart(fileId: string, part: number, data: Uint8Array): Promise<boolean> {
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    return ((await this.#q('putManifestPart', [fileId, part, bytes])).rowCount ?? 0) > 0;
  }

  async sealManifest(fileId: string, manifest: StoredManifest): Promise<boolean> {
    return ((await this.#q('sealManifest', [fileId, manifest.parts, manifest.bytes])).rowCount ?? 0) > 0;
  }

  async getManifest(fileId: string): Promise<StoredManifest | undefined> {
    const row = (await this.#q<StoredManifest>('getManifest', [fileId])).rows[0];
    return row && { parts: row.parts, bytes: row.bytes };
  }

  async getManifestPart(fileId: string, part: number): Promise<Uint8Array | undefined> {
    return (await this.#q<{ data: Buffer }>('getManifestPart', [fileId, part])).rows[0]?.data;
  }

  async listFiles(query: FileQuery): Promise<FileRecord[]> {
    const { afterAt, afterId } = filePosition(query);
    const result =
      query.owner === undefined
        ? await this.#q<FileRow>('listFiles', [afterAt, afterId, query.limit])
        : await this.#q<FileRow>('listOwnerFiles', [afterAt, afterId, query.limit, query.owner]);
    return result.rows.map(toFile);
  }

  async deleteFile(fileId: string, events: WebhookDelivery[] = []): Promise<FileRecord | undefined> {
    const row = await this.#tx(async (c) => {
      const removed = (await run<FileRow>(c, 'deleteFileRow', [fileId])).rows[0];
      if (!removed) return undefined;
      await run(c, 'deleteUpload', [removed.upload_id]); // its chunk rows, claims and gaps go with it (ON DELETE CASCADE)
      await enqueue(c, events);
      return removed;
    });
    return row && toFile(row);
  }

  async createApiKey(key: ApiKeyRecord): Promise<void> {
    await this.#tx((c) => run(c, 'insertKey', [key.id, key.secretHash, key.identity, key.role, key.label, key.createdAt, key.revokedAt]));
  }

  async getApiKey(id: string): Promise<ApiKeyRecord | undefined> {
    const row = (await this.#q<ApiKeyRow>('getKey', [id])).rows[0];
    return row && toApiKey(row);
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    return (await this.#q<ApiKeyRow>('listKeys')).rows.map(toApiKey);
  }

  async revokeApiKey(id: string, at: number): Promise<boolean> {
    return this.#tx(async (c) => ((await run(c, 'revokeKey', [id, at])).rowCount ?? 0) > 0);
  }

  async reserveGrant(
    grantId: string,
    bytes: number,
    limits: { maxBytes: number; maxFiles: number | null },
    expiresAt: number,
  ): Promise<{ ok: boolean; used: GrantUsage }> {
    return this.#tx(async (c) => {
      const after = (await run<GrantUsage>(c, 'reserveGrant', [grantId, bytes, limits.maxBytes, limits.maxFiles, expiresAt])).rows[0];
      if (after) return { ok: true, used: { bytes: after.bytes - bytes, files: after.files - 1 } };
      const used = (await run<GrantUsage>(c, 'grantUsage', [grantId])).rows[0];
      return { ok: false, used: { bytes: used?.bytes ?? 0, files: used?.files ?? 0 } };
    });
  }

  async releaseGrant(grantId: string, bytes: number, files = 1): Promise<void> {
    await this.#tx((c) => run(c, 'releaseGrant', [grantId, bytes, files]));
  }

  async purgeGrants(now: number): Promise<number> {
    return (await this.#q('purgeGrants', [now])).rowCount ?? 0;
  }

  async sharedSecret(name: string, create: () => string): Promise<string> {
    const existing = (await this.#q<{ value: string }>('getSecret', [name])).rows[0];
    if (existing) return existing.value;
    // Two nodes racing: the first insert wins and both read it back.
    await this.#q('insertSecret', [name, create()]);
    return (await this.#q<{ value: string }>('getSecret', [name])).rows[0]!.value;
  }

  async enqueueDeliveries(deliveries: WebhookDelivery[]): Promise<void> {
    if (deliveries.length > 0) await this.#q('insertDeliveries', deliveryArrays(deliveries));
  }

  async claimDeliveries(now: number, leaseUntil: number, limit: number): Promise<WebhookDelivery[]> {
    // A replay after a lost reply finds them leased: they come out when the lease ends (at least once).
    const { rows } = await this.#q<DeliveryRow>('claimDeliveries', [now, leaseUntil, limit]);
    return rows.map(fromDeliveryRow);
  }

  async deliveryDone(eventId: string, endpoint: string): Promise<void> {
    await this.#q('deleteDelivery', [eventId, endpoint]);
  }

  async deliveryFailed(eventId: string, endpoint: string, nextAttemptAt: number | null, error: string): Promise<void> {
    if (nextAttemptAt === null) await this.#q('deleteDelivery', [eventId, endpoint]);
    else await this.#tx((c) => run(c, 'failDelivery', [eventId, endpoint, nextAttemptAt, error.slice(0, 500)]));
  }

  async listDue(state: UploadState, now: number, limit: number): Promise<UploadRecord[]> {
    return (await this.#q<UploadRow>('listDue', [state, now, limit])).rows.map(toUpload);
  }

  async listUnfinished(limit: number): Promise<UploadRecord[]> {
    return (await this.#q<UploadRow>('listUnfinished', [limit])).rows.map(toUpload);
  }

  async deleteUpload(uploadId: string): Promise<void> {
    await this.#q('deleteUpload', [uploadId]);
  }

  close(): Promise<void> {
    return (this.#closed ??= this.#pool.end());
  }
}

interface ReservationRow {
  uploads: number;
  bytes: number;
  total_bytes: number;
  pending_bytes: number;
}

function reservedFrom(r: ReservationRow): Reservations {
  return { uploads: r.uploads, bytes: r.bytes, totalBytes: r.total_bytes, pendingBytes: r.pending_bytes };
}

async function insertUpload(c: Queryable, r: UploadRow, events: WebhookDelivery[]): Promise<void> {
  await run(c, 'insertUpload', [
    r.id, r.state, r.name, r.size, r.chunk_size, r.total_chunks, r.algorithm, r.file_digest, r.metadata, r.blob_handle,
    r.chunks_received, r.bytes_received, r.created_at, r.updated_at, r.expires_at, r.file_id, r.owner, r.grant_id, r.quota_key,
    r.protocol, r.role, r.length_deferred === true || r.length_deferred === 1, r.staged_bytes, r.concat_of,
  ]);
  if (r.total_chunks > 0) await run(c, 'insertGap', [r.id, 0, r.total_chunks - 1]);
  await enqueue(c, events);
}

async function enqueue(c: Queryable, events: WebhookDelivery[]): Promise<void> {
  if (events.length > 0) await run(c, 'insertDeliveries', deliveryArrays(events));
}

/** Deliveries as one array per column (in deliveryColumns' order), for insertDeliveries. */
function deliveryArrays(ds: WebhookDelivery[]): unknown[] {
  const rows = ds.map(toDeliveryRow);
  return deliveryColumns.map((column) => rows.map((r) => r[column]));
}
