// Metadata on SQLite (better-sqlite3): one file, WAL, every acknowledged chunk durable at commit.
import Database from 'better-sqlite3';
import { FerryError, type UploadState } from '../../protocol/index.js';
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
import { passedLimit, reservedBytes } from '../reservations.js';

/** What an upload in progress reserves, in SQL (see reservedBytes()). */
const reservedSql = 'CASE WHEN length_deferred = 1 THEN MIN(size, bytes_received + chunk_size) ELSE size END';
import { migrate } from './schema.js';
import { WalSync } from './wal-sync.js';
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

/** How long a statement waits for another connection's write lock before failing with SQLITE_BUSY. */
export const BusyTimeoutMs = 5000;

export interface SqliteMetaStoreOptions {
  /** Clock for claim expiry and updated_at; Date.now by default. */
  now?: () => number;
  /**
   * When a write is durable. 'full' (default): synchronous=FULL, every commit fsyncs the WAL inside
   * the call, blocking the event loop for the fsync. 'async': synchronous=NORMAL, and every write
   * method resolves only after an fdatasync of the WAL run in the thread pool (shared by concurrent
   * commits): as durable, without stalling other requests. 'process': synchronous=NORMAL alone, commits
   * survive a crash of the process but not a power loss (for a server running without fsync).
   */
  durability?: 'full' | 'async' | 'process';
}

/** Opens (creating and migrating if needed) the metadata database at `path`. */
export async function openSqliteMetaStore(path: string, options: SqliteMetaStoreOptions = {}): Promise<SqliteMetaStore> {
  const db = new Database(path, { timeout: BusyTimeoutMs });
  try {
    db.pragma(`busy_timeout = ${BusyTimeoutMs}`);
    db.pragma('journal_mode = WAL');
    // FULL: in WAL mode every commit is fsynced, so an acknowledged chunk survives power loss.
    // NORMAL: the WAL is fsynced at checkpoints only ('async' adds an fdatasync per write, off the loop).
    const durability = options.durability ?? 'full';
    db.pragma(durability === 'full' ? 'synchronous = FULL' : 'synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db);
    return new SqliteMetaStore(db, options.now ?? Date.now, durability === 'async' ? new WalSync(`${path}-wal`) : null);
  } catch (e) {
    db.close();
    throw e;
  }
}

interface GapRow {
  first_idx: number;
  last_idx: number;
}

type Key = [uploadId: string, index: number];

interface FilePage {
  afterAt: number;
  afterId: string;
  limit: number;
}

interface TransitionParams {
  id: string;
  from: string;
  to: UploadState;
  fileId: string | null;
  now: number;
  dueBy: number | null;
}

function prepareAll(db: Database.Database) {
  return {
    insertUpload: db.prepare<[UploadRow]>(
      `INSERT INTO uploads (id, state, name, size, chunk_size, total_chunks, algorithm, file_digest, metadata,
         blob_handle, chunks_received, bytes_received, created_at, updated_at, expires_at, file_id, owner, grant_id, quota_key,
         protocol, role, length_deferred, staged_bytes, concat_of)
       VALUES (@id, @state, @name, @size, @chunk_size, @total_chunks, @algorithm, @file_digest, @metadata,
         @blob_handle, @chunks_received, @bytes_received, @created_at, @updated_at, @expires_at, @file_id, @owner, @grant_id, @quota_key,
         @protocol, @role, @length_deferred, @staged_bytes, @concat_of)`,
    ),
    // Reservations: one key's uploads in progress (index uploads_quota_state), then everyone's.
    keyReservation: db.prepare<[string], { uploads: number; bytes: number }>(
      `SELECT COUNT(*) AS uploads, COALESCE(SUM(${reservedSql}), 0) AS bytes FROM uploads WHERE quota_key = ? AND state = 'uploading'`,
    ),
    totalReservation: db.prepare<[], { totalBytes: number; pendingBytes: number }>(
      `SELECT COALESCE(SUM(${reservedSql}), 0) AS totalBytes, COALESCE(SUM(${reservedSql} - bytes_received), 0) AS pendingBytes
       FROM uploads WHERE state = 'uploading'`,
    ),
    getUpload: db.prepare<[string], UploadRow>('SELECT * FROM uploads WHERE id = ?'),
    getState: db.prepare<[string], { state: UploadState }>('SELECT state FROM uploads WHERE id = ?'),
    deleteUpload: db.prepare<[string]>('DELETE FROM uploads WHERE id = ?'),
    listChunks: db.prepare<[string], ChunkRow>('SELECT idx, size, digest, receipt FROM chunks WHERE upload_id = ? ORDER BY idx'),
    listChunkPage: db.prepare<[string, number, number], ChunkRow>(
      'SELECT idx, size, digest, receipt FROM chunks WHERE upload_id = ? AND idx >= ? ORDER BY idx LIMIT ?',
    ),
    insertGap: db.prepare<[string, number, number]>('INSERT INTO upload_gaps (upload_id, first_idx, last_idx) VALUES (?, ?, ?)'),
    // The gap that could hold index i: the last one starting at or before it.
    findGap: db.prepare<[string, number], GapRow>(
      'SELECT first_idx, last_idx FROM upload_gaps WHERE upload_id = ? AND first_idx <= ? ORDER BY first_idx DESC LIMIT 1',
    ),
    deleteGap: db.prepare<[string, number]>('DELETE FROM upload_gaps WHERE upload_id = ? AND first_idx = ?'),
    listGaps: db.prepare<[string, number, number], GapRow>(
      'SELECT first_idx, last_idx FROM upload_gaps WHERE upload_id = ? AND first_idx > ? ORDER BY first_idx LIMIT ?',
    ),
    forgetGaps: db.prepare<[string]>('DELETE FROM upload_gaps WHERE upload_id = ?'),
    // Whether any chunk row from index ? on exists (a stream's next chunks must all be new).
    chunkFrom: db.prepare<[string, number], { found: number }>('SELECT 1 AS found FROM chunks WHERE upload_id = ? AND idx >= ? LIMIT 1'),
    // A deferred length now known: gaps past the new last chunk go, one reaching past it ends there.
    dropGapsAfter: db.prepare<[string, number]>('DELETE FROM upload_gaps WHERE upload_id = ? AND first_idx > ?'),
    trimGapsAt: db.prepare<[{ id: string; last: number }]>(
      'UPDATE upload_gaps SET last_idx = @last WHERE upload_id = @id AND first_idx <= @last AND last_idx > @last',
    ),
    // advanceStream, after its chunks were counted: what is staged, and (with a length) size and chunk count.
    advanceStream: db.prepare<[{ id: string; staged: number; now: number; expiresAt: number; size: number | null; totalChunks: number | null }]>(
      `UPDATE uploads SET staged_bytes = @staged, updated_at = @now, expires_at = @expiresAt,
         size = COALESCE(@size, size), total_chunks = COALESCE(@totalChunks, total_chunks),
         length_deferred = CASE WHEN @size IS NULL THEN length_deferred ELSE 0 END
       WHERE id = @id`,
    ),
    // Only for a file that exists (no row, no answer), so a manifest cannot outlive its file.
    putManifestPart: db.prepare<[{ fileId: string; part: number; data: Uint8Array }]>(
      `INSERT INTO manifest_parts (file_id, part, data) SELECT @fileId, @part, @data WHERE EXISTS (SELECT 1 FROM files WHERE id = @fileId)
       ON CONFLICT (file_id, part) DO UPDATE SET data = excluded.data`,
    ),
    sealManifest: db.prepare<[{ fileId: string; parts: number; bytes: number }]>(
      `INSERT INTO manifests (file_id, parts, bytes) SELECT @fileId, @parts, @bytes WHERE EXISTS (SELECT 1 FROM files WHERE id = @fileId)
       ON CONFLICT (file_id) DO UPDATE SET parts = excluded.parts, bytes = excluded.bytes`,
    ),
    getManifest: db.prepare<[string], StoredManifest>('SELECT parts, bytes FROM manifests WHERE file_id = ?'),
    getManifestPart: db.prepare<[string, number], { data: Buffer }>('SELECT data FROM manifest_parts WHERE file_id = ? AND part = ?'),
    getChunk: db.prepare<Key, ChunkRow>('SELECT idx, size, digest, receipt FROM chunks WHERE upload_id = ? AND idx = ?'),
    insertChunk: db.prepare<[string, number, number, string, string]>(
      `INSERT INTO chunks (upload_id, idx, size, digest, receipt) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (upload_id, idx) DO NOTHING`,
    ),
    // A whole chunk is in: nothing of the next one is staged yet (stream uploads; always 0 for Ferry's own).
    countChunk: db.prepare<[{ size: number; now: number; expiresAt: number; id: string }], Pick<UploadRow, 'chunks_received' | 'bytes_received'>>(
      `UPDATE uploads SET chunks_received = chunks_received + 1, bytes_received = bytes_received + @size, staged_bytes = 0,
         updated_at = @now, expires_at = @expiresAt
       WHERE id = @id RETURNING chunks_received, bytes_received`,
    ),
    // One statement: take the claim when it is free, expired, or already ours.
    claim: db.prepare<[{ id: string; idx: number; token: string; expiresAt: number; now: number }]>(
      `INSERT INTO chunk_claims (upload_id, idx, token, expires_at) VALUES (@id, @idx, @token, @expiresAt)
       ON CONFLICT (upload_id, idx) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at
       WHERE chunk_claims.token = excluded.token OR chunk_claims.expires_at <= @now`,
    ),
    release: db.prepare<[...Key, string]>('DELETE FROM chunk_claims WHERE upload_id = ? AND idx = ? AND token = ?'),
    renew: db.prepare<[number, ...Key, string]>('UPDATE chunk_claims SET expires_at = ? WHERE upload_id = ? AND idx = ? AND token = ?'),
    claimToken: db.prepare<Key, { token: string }>('SELECT token FROM chunk_claims WHERE upload_id = ? AND idx = ?'),
    stagedBytes: db.prepare<Key, { staged_bytes: number }>('SELECT staged_bytes FROM chunk_claims WHERE upload_id = ? AND idx = ?'),
    // A cut writer keeps its bytes and gives the claim up: no holder ('' matches no writer's token, so its
    // late release or renewal finds nothing) and expired, so the next claimChunk takes the row, count and all.
    keepStaged: db.prepare<[{ id: string; idx: number; token: string; bytes: number }]>(
      `UPDATE chunk_claims SET staged_bytes = @bytes, token = '', expires_at = 0
       WHERE upload_id = @id AND idx = @idx AND token = @token`,
    ),
    // A chunk recorded since is left out (a writer may have kept bytes of a chunk another one recorded).
    listStaged: db.prepare<[string, number], { idx: number; staged_bytes: number }>(
      `SELECT idx, staged_bytes FROM chunk_claims c
       WHERE upload_id = ? AND idx >= 0 AND staged_bytes > 0
         AND NOT EXISTS (SELECT 1 FROM chunks k WHERE k.upload_id = c.upload_id AND k.idx = c.idx)
       ORDER BY idx LIMIT ?`,
    ),
    // The chunk is recorded: what was staged for it is used up (the claim row stays until its writer releases it).
    unstage: db.prepare<Key>('UPDATE chunk_claims SET staged_bytes = 0 WHERE upload_id = ? AND idx = ? AND staged_bytes > 0'),
    lease: db.prepare<[{ name: string; holder: string; expiresAt: number; now: number }]>(
      `INSERT INTO leases (name, holder, expires_at) VALUES (@name, @holder, @expiresAt)
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
       WHERE leases.holder = excluded.holder OR leases.expires_at <= @now`,
    ),
    releaseLease: db.prepare<[string, string]>('DELETE FROM leases WHERE name = ? AND holder = ?'),
    // `from` is a JSON array so one prepared statement serves any number of source states.
    // With dueBy: only an upload due for expiry then (expired by that time, a chunk still missing, or
    // one that never completes by itself: a partial upload, a deferred length; see listUnfinished).
    transition: db.prepare<[TransitionParams]>(
      `UPDATE uploads SET state = @to, file_id = COALESCE(@fileId, file_id), updated_at = @now
       WHERE id = @id AND state IN (SELECT value FROM json_each(@from))
         AND (@dueBy IS NULL OR (expires_at <= @dueBy AND (chunks_received < total_chunks OR role = 'part' OR length_deferred = 1)))`,
    ),
    forgetChunks: db.prepare<[string]>('DELETE FROM chunks WHERE upload_id = ?'),
    forgetClaims: db.prepare<[string]>('DELETE FROM chunk_claims WHERE upload_id = ?'),
    insertFile: db.prepare<[FileRow]>(
      `INSERT INTO files (id, upload_id, name, size, chunk_size, total_chunks, algorithm, file_digest, etag, metadata,
         blob_ref, created_at, owner)
       VALUES (@id, @upload_id, @name, @size, @chunk_size, @total_chunks, @algorithm, @file_digest, @etag, @metadata,
         @blob_ref, @created_at, @owner)`,
    ),
    getFile: db.prepare<[string], FileRow>('SELECT * FROM files WHERE id = ?'),
    deleteFileRow: db.prepare<[string]>('DELETE FROM files WHERE id = ?'),
    // A page of files after a (created_at, id) position, as a row-value range so SQLite walks an index
    // from that position: one statement per index (a NULL "any owner" parameter would make it scan all).
    listFiles: db.prepare<[FilePage], FileRow>(
      'SELECT * FROM files WHERE (created_at, id) < (@afterAt, @afterId) ORDER BY created_at DESC, id DESC LIMIT @limit',
    ),
    listOwnerFiles: db.prepare<[FilePage & { owner: string }], FileRow>(
      'SELECT * FROM files WHERE owner = @owner AND (created_at, id) < (@afterAt, @afterId) ORDER BY created_at DESC, id DESC LIMIT @limit',
    ),
    insertKey: db.prepare<[ApiKeyRow]>(
      `INSERT INTO api_keys (id, secret_hash, identity, role, label, created_at, revoked_at)
       VALUES (@id, @secret_hash, @identity, @role, @label, @created_at, @revoked_at)`,
    ),
    getKey: db.prepare<[string], ApiKeyRow>('SELECT * FROM api_keys WHERE id = ?'),
    listKeys: db.prepare<[], ApiKeyRow>('SELECT * FROM api_keys ORDER BY created_at, id'),
    revokeKey: db.prepare<[number, string]>('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
    // Takes the budget only when the result stays within the limits; no row changed = refused.
    reserveGrant: db.prepare<[{ id: string; bytes: number; maxBytes: number; maxFiles: number | null; expiresAt: number }]>(
      `INSERT INTO grant_usage (grant_id, bytes, files, expires_at)
       SELECT @id, @bytes, 1, @expiresAt WHERE @bytes <= @maxBytes AND (@maxFiles IS NULL OR @maxFiles >= 1)
       ON CONFLICT (grant_id) DO UPDATE SET bytes = bytes + excluded.bytes, files = files + 1
       WHERE grant_usage.bytes + excluded.bytes <= @maxBytes AND (@maxFiles IS NULL OR grant_usage.files + 1 <= @maxFiles)`,
    ),
    grantUsage: db.prepare<[string], GrantUsage>('SELECT bytes, files FROM grant_usage WHERE grant_id = ?'),
    releaseGrant: db.prepare<[number, number, string]>('UPDATE grant_usage SET bytes = MAX(0, bytes - ?), files = MAX(0, files - ?) WHERE grant_id = ?'),
    purgeGrants: db.prepare<[number]>('DELETE FROM grant_usage WHERE expires_at < ?'),
    insertSecret: db.prepare<[string, string]>('INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING'),
    getSecret: db.prepare<[string], { value: string }>('SELECT value FROM secrets WHERE name = ?'),
    insertDelivery: db.prepare<[DeliveryRow]>(
      `INSERT INTO webhook_outbox (${deliveryColumns.join(', ')}) VALUES (${deliveryColumns.map((c) => `@${c}`).join(', ')})
       ON CONFLICT (event_id, endpoint) DO NOTHING`,
    ),
    dueDeliveries: db.prepare<[number, number], DeliveryRow>(
      `SELECT event_id, endpoint, type, payload, created_at, attempts, next_attempt_at FROM webhook_outbox
       WHERE next_attempt_at <= ? ORDER BY next_attempt_at, created_at LIMIT ?`,
    ),
    leaseDelivery: db.prepare<[number, string, string]>('UPDATE webhook_outbox SET next_attempt_at = ? WHERE event_id = ? AND endpoint = ?'),
    deleteDelivery: db.prepare<[string, string]>('DELETE FROM webhook_outbox WHERE event_id = ? AND endpoint = ?'),
    failDelivery: db.prepare<[number, string, string, string]>(
      'UPDATE webhook_outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE event_id = ? AND endpoint = ?',
    ),
    listDue: db.prepare<[UploadState, number, number], UploadRow>(
      'SELECT * FROM uploads WHERE state = ? AND expires_at < ? ORDER BY expires_at, id LIMIT ?',
    ),
    listUnfinished: db.prepare<[number], UploadRow>(
      `SELECT * FROM uploads WHERE (state = 'completing' OR (state = 'uploading' AND chunks_received = total_chunks))
         AND role = 'file' AND length_deferred = 0
       ORDER BY updated_at, id LIMIT ?`,
    ),
  };
}

/** Use openSqliteMetaStore(); the constructor expects a configured, migrated connection. */
export class SqliteMetaStore implements MetaStore {
  readonly #db: Database.Database;
  readonly #now: () => number;
  readonly #sql: ReturnType<typeof prepareAll>;
  readonly #recordChunk: Database.Transaction<(uploadId: string, chunk: ChunkRecord, expiresAt: number, claimToken: string | undefined) => RecordChunkResult>;
  readonly #advanceStream: Database.Transaction<(uploadId: string, step: StreamStep) => AdvanceResult>;
  readonly #forgetChunks: Database.Transaction<(uploadId: string) => void>;
  readonly #deleteFile: Database.Transaction<(fileId: string, events: WebhookDelivery[]) => FileRow | undefined>;
  readonly #transition: Database.Transaction<(params: TransitionParams, events: WebhookDelivery[]) => boolean>;
  readonly #insertUpload: Database.Transaction<(row: UploadRow, events: WebhookDelivery[]) => void>;
  readonly #insertWithin: Database.Transaction<(row: UploadRow, limits: ReservationLimits, events: WebhookDelivery[]) => ReservationResult>;
  readonly #claimDeliveries: Database.Transaction<(now: number, leaseUntil: number, limit: number) => DeliveryRow[]>;
  /** Makes commits durable after the fact ('async' durability); null when commits are durable (or not) as made. */
  readonly #wal: WalSync | null;

  constructor(db: Database.Database, now: () => number, wal: WalSync | null = null) {
    this.#db = db;
    this.#now = now;
    this.#wal = wal;
    const sql = (this.#sql = prepareAll(db));
    // Index i has arrived: the gap holding it shrinks, splits in two, or goes (O(log gaps), inside recordChunk).
    const closeGap = (uploadId: string, i: number) => {
      const gap = sql.findGap.get(uploadId, i);
      if (!gap || gap.last_idx < i) return;
      sql.deleteGap.run(uploadId, gap.first_idx);
      if (gap.first_idx < i) sql.insertGap.run(uploadId, gap.first_idx, i - 1);
      if (i < gap.last_idx) sql.insertGap.run(uploadId, i + 1, gap.last_idx);
    };
    this.#recordChunk = db.transaction((uploadId: string, chunk: ChunkRecord, expiresAt: number, claimToken: string | undefined): RecordChunkResult => {
      const upload = sql.getState.get(uploadId);
      if (!upload) throw new FerryError('upload-not-found', `No upload ${uploadId}.`);
      if (upload.state !== 'uploading') return { outcome: 'closed', state: upload.state };
      if (claimToken !== undefined && sql.claimToken.get(uploadId, chunk.index)?.token !== claimToken) {
        const stored = sql.getChunk.get(uploadId, chunk.index);
        return stored ? { outcome: 'exists', existing: toChunk(stored) } : { outcome: 'claim-lost' };
      }
      const inserted = sql.insertChunk.run(uploadId, chunk.index, chunk.size, chunk.digest, chunk.receipt);
      if (inserted.changes === 0) return { outcome: 'exists', existing: toChunk(sql.getChunk.get(uploadId, chunk.index)!) };
      closeGap(uploadId, chunk.index);
      sql.unstage.run(uploadId, chunk.index);
      const counts = sql.countChunk.get({ size: chunk.size, now: this.#now(), expiresAt, id: uploadId })!;
      return { outcome: 'recorded', chunksReceived: counts.chunks_received, bytesReceived: counts.bytes_received };
    });
    this.#advanceStream = db.transaction((uploadId: string, step: StreamStep): AdvanceResult => {
      checkStreamStep(step);
      const row = sql.getUpload.get(uploadId);
      if (!row) return { outcome: 'closed', state: undefined };
      if (row.state !== 'uploading') return { outcome: 'closed', state: row.state };
      if (sql.claimToken.get(uploadId, streamWriterClaim)?.token !== step.claimToken) return { outcome: 'claim-lost' };
      const upload = toUpload(row);
      if (upload.chunksReceived !== step.from.chunksReceived || upload.stagedBytes !== step.from.stagedBytes) return { outcome: 'moved', upload };
      checkStreamStepFits(upload, step);
      // A chunk row already there: another writer got further than these counters say. Checked before
      // anything is written, so nothing changes.
      if (step.chunks.length > 0 && sql.chunkFrom.get(uploadId, step.from.chunksReceived)) return { outcome: 'moved', upload };
      const now = this.#now();
      for (const chunk of step.chunks) {
        sql.insertChunk.run(uploadId, chunk.index, chunk.size, chunk.digest, chunk.receipt); // new: checked above, under the write lock
        closeGap(uploadId, chunk.index);
        sql.countChunk.get({ size: chunk.size, now, expiresAt: step.expiresAt, id: uploadId });
      }
      if (step.length) {
        const last = step.length.totalChunks - 1;
        sql.dropGapsAfter.run(uploadId, last);
        sql.trimGapsAt.run({ id: uploadId, last });
      }
      sql.advanceStream.run({
        id: uploadId,
        staged: step.stagedBytes,
        now,
        expiresAt: step.expiresAt,
        size: step.length?.size ?? null,
        totalChunks: step.length?.totalChunks ?? null,
      });
      return { outcome: 'advanced', upload: toUpload(sql.getUpload.get(uploadId)!) };
    });
    this.#forgetChunks = db.transaction((uploadId: string) => {
      sql.forgetChunks.run(uploadId);
      sql.forgetClaims.run(uploadId);
      sql.forgetGaps.run(uploadId);
    });
    const enqueue = (events: WebhookDelivery[]) => {
      for (const d of events) sql.insertDelivery.run(toDeliveryRow(d));
    };
    this.#deleteFile = db.transaction((fileId: string, events: WebhookDelivery[]) => {
      const row = sql.getFile.get(fileId);
      if (!row) return undefined;
      sql.deleteFileRow.run(fileId);
      sql.deleteUpload.run(row.upload_id); // its chunk rows, claims and gaps go with it (ON DELETE CASCADE)
      enqueue(events);
      return row;
    });
    this.#transition = db.transaction((params: TransitionParams, events: WebhookDelivery[]) => {
      const changed = sql.transition.run(params).changes > 0;
      if (changed) enqueue(events);
      // Claims mean something only while chunks or the completion may still be written.
      if (changed && endedStates.has(params.to)) sql.forgetClaims.run(params.id);
      return changed;
    });
    this.#insertUpload = db.transaction((row: UploadRow, events: WebhookDelivery[]) => {
      sql.insertUpload.run(row);
      if (row.total_chunks > 0) sql.insertGap.run(row.id, 0, row.total_chunks - 1);
      enqueue(events);
    });
    const insertUpload = this.#insertUpload;
    // Read and insert under one write lock (run IMMEDIATE): no other create can slip in between.
    this.#insertWithin = db.transaction((row: UploadRow, limits: ReservationLimits, events: WebhookDelivery[]): ReservationResult => {
      const reserved = this.#reserved(limits.key);
      const limit = passedLimit(reserved, reservedBytes(toUpload(row)), limits);
      if (limit) return { ok: false, limit, reserved };
      insertUpload(row, events);
      return { ok: true, reserved };
    });
    this.#claimDeliveries = db.transaction((now: number, leaseUntil: number, limit: number) => {
      const rows = sql.dueDeliveries.all(now, limit);
      for (const r of rows) sql.leaseDelivery.run(leaseUntil, r.event_id, r.endpoint);
      return rows;
    });
  }

  async createUpload(upload: UploadRecord, events: WebhookDelivery[] = []): Promise<void> {
    this.#insertUpload.immediate(fromUpload(upload), events);
    await this.#wal?.sync();
  }

  async reservations(key: string): Promise<Reservations> {
    await this.#durable();
    return this.#reserved(key);
  }

  async createUploadWithin(upload: UploadRecord, limits: ReservationLimits, events: WebhookDelivery[] = []): Promise<ReservationResult> {
    const result = this.#insertWithin.immediate({ ...fromUpload(upload), quota_key: limits.key }, limits, events);
    if (result.ok) await this.#wal?.sync();
    return result;
  }

  #reserved(key: string): Reservations {
    const mine = this.#sql.keyReservation.get(key)!;
    const all = this.#sql.totalReservation.get()!;
    return { uploads: mine.uploads, bytes: mine.bytes, totalBytes: all.totalBytes, pendingBytes: all.pendingBytes };
  }

  async getUpload(uploadId: string): Promise<UploadRecord | undefined> {
    await this.#durable();
    const row = this.#sql.getUpload.get(uploadId);
    return row && toUpload(row);
  }

  async listChunks(uploadId: string, page?: { from: number; limit: number }): Promise<ChunkRecord[]> {
    await this.#durable();
    const rows = page ? this.#sql.listChunkPage.all(uploadId, page.from, page.limit) : this.#sql.listChunks.all(uploadId);
    return rows.map(toChunk);
  }

  async listMissing(uploadId: string, after: number, limit: number): Promise<IndexRange[]> {
    await this.#durable();
    return this.#sql.listGaps.all(uploadId, after, limit).map((g) => ({ first: g.first_idx, last: g.last_idx }));
  }

  async getChunk(uploadId: string, index: number): Promise<ChunkRecord | undefined> {
    await this.#durable();
    const row = this.#sql.getChunk.get(uploadId, index);
    return row && toChunk(row);
  }

  async claimChunk(uploadId: string, index: number, token: string, expiresAt: number): Promise<boolean> {
    return this.#sql.claim.run({ id: uploadId, idx: index, token, expiresAt, now: this.#now() }).changes > 0;
  }

  async renewChunk(uploadId: string, index: number, token: string, expiresAt: number): Promise<boolean> {
    return this.#sql.renew.run(expiresAt, uploadId, index, token).changes > 0;
  }

  async releaseChunk(uploadId: string, index: number, token: string): Promise<void> {
    this.#sql.release.run(uploadId, index, token);
  }

  async stagedBytes(uploadId: string, index: number): Promise<number> {
    await this.#durable();
    return this.#sql.stagedBytes.get(uploadId, index)?.staged_bytes ?? 0;
  }

  async keepStaged(uploadId: string, index: number, token: string, bytes: number): Promise<boolean> {
    const kept = this.#sql.keepStaged.run({ id: uploadId, idx: index, token, bytes }).changes > 0;
    if (kept) await this.#wal?.sync();
    return kept;
  }

  async listStaged(uploadId: string, limit: number): Promise<StagedChunk[]> {
    await this.#durable();
    return this.#sql.listStaged.all(uploadId, limit).map((r) => ({ index: r.idx, bytes: r.staged_bytes }));
  }

  async recordChunk(uploadId: string, chunk: ChunkRecord, expiresAt: number, claimToken?: string): Promise<RecordChunkResult> {
    // IMMEDIATE takes the write lock up front, so a second process cannot interleave between read and write.
    const result = this.#recordChunk.immediate(uploadId, chunk, expiresAt, claimToken);
    if (result.outcome === 'recorded') await this.#wal?.sync();
    return result;
  }

  async advanceStream(uploadId: string, step: StreamStep): Promise<AdvanceResult> {
    const result = this.#advanceStream.immediate(uploadId, step);
    if (result.outcome === 'advanced') await this.#wal?.sync();
    else await this.#durable();
    return result;
  }

  async claimLease(name: string, holder: string, expiresAt: number): Promise<boolean> {
    return this.#sql.lease.run({ name, holder, expiresAt, now: this.#now() }).changes > 0;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    this.#sql.releaseLease.run(name, holder);
  }

  async transition(uploadId: string, from: UploadState[], to: UploadState, patch: TransitionPatch = {}, events: WebhookDelivery[] = []): Promise<boolean> {
    const params = { id: uploadId, from: JSON.stringify(from), to, fileId: patch.fileId ?? null, now: this.#now(), dueBy: patch.dueBy ?? null };
    const changed = events.length === 0 && !endedStates.has(to) ? this.#sql.transition.run(params).changes > 0 : this.#transition.immediate(params, events);
    if (changed) await this.#wal?.sync();
    return changed;
  }

  async forgetChunks(uploadId: string): Promise<void> {
    this.#forgetChunks.immediate(uploadId);
    await this.#wal?.sync();
  }

  async createFile(file: FileRecord): Promise<void> {
    this.#sql.insertFile.run(fromFile(file));
    await this.#wal?.sync();
  }

  async getFile(fileId: string): Promise<FileRecord | undefined> {
    await this.#durable();
    const row = this.#sql.getFile.get(fileId);
    return row && toFile(row);
  }

  async putManifestPart(fileId: string, part: number, data: Uint8Array): Promise<boolean> {
    const stored = this.#sql.putManifestPart.run({ fileId, part, data }).changes > 0;
    if (stored) await this.#wal?.sync();
    return stored;
  }

  async sealManifest(fileId: string, manifest: StoredManifest): Promise<boolean> {
    const sealed = this.#sql.sealManifest.run({ fileId, parts: manifest.parts, bytes: manifest.bytes }).changes > 0;
    if (sealed) await this.#wal?.sync();
    return sealed;
  }

  async getManifest(fileId: string): Promise<StoredManifest | undefined> {
    await this.#durable();
    const row = this.#sql.getManifest.get(fileId);
    return row && { parts: row.parts, bytes: row.bytes };
  }

  async getManifestPart(fileId: string, part: number): Promise<Uint8Array | undefined> {
    await this.#durable();
    return this.#sql.getManifestPart.get(fileId, part)?.data;
  }

  async listFiles(query: FileQuery): Promise<FileRecord[]> {
    await this.#durable();
    const page: FilePage = { ...filePosition(query), limit: query.limit };
    const rows = query.owner === undefined ? this.#sql.listFiles.all(page) : this.#sql.listOwnerFiles.all({ ...page, owner: query.owner });
    return rows.map(toFile);
  }

  async deleteFile(fileId: string, events: WebhookDelivery[] = []): Promise<FileRecord | undefined> {
    const row = this.#deleteFile.immediate(fileId, events);
    if (row) await this.#wal?.sync();
    return row && toFile(row);
  }

  async createApiKey(key: ApiKeyRecord): Promise<void> {
    this.#sql.insertKey.run({
      id: key.id,
      secret_hash: key.secretHash,
      identity: key.identity,
      role: key.role,
      label: key.label,
      created_at: key.createdAt,
      revoked_at: key.revokedAt,
    });
    await this.#wal?.sync();
  }

  async getApiKey(id: string): Promise<ApiKeyRecord | undefined> {
    await this.#durable();
    const row = this.#sql.getKey.get(id);
    return row && toApiKey(row);
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    await this.#durable();
    return this.#sql.listKeys.all().map(toApiKey);
  }

  async revokeApiKey(id: string, at: number): Promise<boolean> {
    const changed = this.#sql.revokeKey.run(at, id).changes > 0;
    if (changed) await this.#wal?.sync();
    return changed;
  }

  async reserveGrant(
    grantId: string,
    bytes: number,
    limits: { maxBytes: number; maxFiles: number | null },
    expiresAt: number,
  ): Promise<{ ok: boolean; used: GrantUsage }> {
    const run = this.#db.transaction(() => {
      const used = this.#sql.grantUsage.get(grantId) ?? { bytes: 0, files: 0 };
      const ok = this.#sql.reserveGrant.run({ id: grantId, bytes, maxBytes: limits.maxBytes, maxFiles: limits.maxFiles, expiresAt }).changes > 0;
      return { ok, used: { bytes: used.bytes, files: used.files } };
    });
    const result = run.immediate();
    if (result.ok) await this.#wal?.sync();
    return result;
  }

  async releaseGrant(grantId: string, bytes: number, files = 1): Promise<void> {
    this.#sql.releaseGrant.run(bytes, files, grantId);
    await this.#wal?.sync();
  }

  async purgeGrants(now: number): Promise<number> {
    const n = this.#sql.purgeGrants.run(now).changes;
    if (n > 0) await this.#wal?.sync();
    return n;
  }

  async sharedSecret(name: string, create: () => string): Promise<string> {
    const existing = this.#sql.getSecret.get(name);
    if (existing) return existing.value;
    // Two nodes racing: the first insert wins and both read it back.
    if (this.#sql.insertSecret.run(name, create()).changes > 0) await this.#wal?.sync();
    return this.#sql.getSecret.get(name)!.value;
  }

  async enqueueDeliveries(deliveries: WebhookDelivery[]): Promise<void> {
    const insert = this.#db.transaction((rows: WebhookDelivery[]) => {
      for (const d of rows) this.#sql.insertDelivery.run(toDeliveryRow(d));
    });
    insert.immediate(deliveries);
    await this.#wal?.sync();
  }

  async claimDeliveries(now: number, leaseUntil: number, limit: number): Promise<WebhookDelivery[]> {
    const rows = this.#claimDeliveries.immediate(now, leaseUntil, limit);
    if (rows.length > 0) await this.#wal?.sync();
    return rows.map(fromDeliveryRow);
  }

  async deliveryDone(eventId: string, endpoint: string): Promise<void> {
    this.#sql.deleteDelivery.run(eventId, endpoint);
    await this.#wal?.sync();
  }

  async deliveryFailed(eventId: string, endpoint: string, nextAttemptAt: number | null, error: string): Promise<void> {
    if (nextAttemptAt === null) this.#sql.deleteDelivery.run(eventId, endpoint);
    else this.#sql.failDelivery.run(nextAttemptAt, error.slice(0, 500), eventId, endpoint);
    await this.#wal?.sync();
  }

  async listDue(state: UploadState, now: number, limit: number): Promise<UploadRecord[]> {
    await this.#durable();
    return this.#sql.listDue.all(state, now, limit).map(toUpload);
  }

  async listUnfinished(limit: number): Promise<UploadRecord[]> {
    await this.#durable();
    return this.#sql.listUnfinished.all(limit).map(toUpload);
  }

  async deleteUpload(uploadId: string): Promise<void> {
    this.#sql.deleteUpload.run(uploadId);
    await this.#wal?.sync();
  }

  /**
   * With 'async' durability, waits until every commit so far is durable: nothing is reported (status,
   * duplicate chunks, files) that a power loss could still take back. Immediate when no write is pending.
   */
  #durable(): Promise<void> | undefined {
    return this.#wal?.settled();
  }

  /** The connection settings in force, for startup logs and tests. */
  settings(): { journalMode: string; synchronous: number; busyTimeoutMs: number; foreignKeys: boolean; schemaVersion: number } {
    const pragma = (name: string) => this.#db.pragma(name, { simple: true });
    return {
      journalMode: String(pragma('journal_mode')),
      synchronous: Number(pragma('synchronous')),
      busyTimeoutMs: Number(pragma('busy_timeout')),
      foreignKeys: Number(pragma('foreign_keys')) === 1,
      schemaVersion: Number(pragma('user_version')),
    };
  }

  async close(): Promise<void> {
    await this.#wal?.close();
    if (this.#db.open) this.#db.close();
  }
}
