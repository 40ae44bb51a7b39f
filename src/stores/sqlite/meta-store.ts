// Metadata on SQLite (better-sqlite3): one file, WAL, every acknowledged chunk durable at commit.
import Database from 'better-sqlite3';
import { FerryError, type DigestAlgorithm, type UploadState } from '../../protocol/index.js';
import type { ChunkRecord, FileRecord, MetaStore, RecordChunkResult, UploadRecord } from '../types.js';
import { migrate } from './schema.js';
import { WalSync } from './wal-sync.js';

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

interface UploadRow {
  id: string;
  state: UploadState;
  name: string;
  size: number;
  chunk_size: number;
  total_chunks: number;
  algorithm: DigestAlgorithm;
  file_digest: string | null;
  metadata: string;
  blob_handle: string;
  chunks_received: number;
  bytes_received: number;
  created_at: number;
  updated_at: number;
  expires_at: number;
  file_id: string | null;
}

interface ChunkRow {
  idx: number;
  size: number;
  digest: string;
  receipt: string;
}

interface FileRow {
  id: string;
  upload_id: string;
  name: string;
  size: number;
  chunk_size: number;
  total_chunks: number;
  algorithm: DigestAlgorithm;
  file_digest: string | null;
  etag: string;
  metadata: string;
  blob_ref: string;
  created_at: number;
}

type Key = [uploadId: string, index: number];

function prepareAll(db: Database.Database) {
  return {
    insertUpload: db.prepare<[UploadRow]>(
      `INSERT INTO uploads (id, state, name, size, chunk_size, total_chunks, algorithm, file_digest, metadata,
         blob_handle, chunks_received, bytes_received, created_at, updated_at, expires_at, file_id)
       VALUES (@id, @state, @name, @size, @chunk_size, @total_chunks, @algorithm, @file_digest, @metadata,
         @blob_handle, @chunks_received, @bytes_received, @created_at, @updated_at, @expires_at, @file_id)`,
    ),
    getUpload: db.prepare<[string], UploadRow>('SELECT * FROM uploads WHERE id = ?'),
    getState: db.prepare<[string], { state: UploadState }>('SELECT state FROM uploads WHERE id = ?'),
    deleteUpload: db.prepare<[string]>('DELETE FROM uploads WHERE id = ?'),
    listChunks: db.prepare<[string], ChunkRow>('SELECT idx, size, digest, receipt FROM chunks WHERE upload_id = ? ORDER BY idx'),
    getChunk: db.prepare<Key, ChunkRow>('SELECT idx, size, digest, receipt FROM chunks WHERE upload_id = ? AND idx = ?'),
    insertChunk: db.prepare<[string, number, number, string, string]>(
      `INSERT INTO chunks (upload_id, idx, size, digest, receipt) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (upload_id, idx) DO NOTHING`,
    ),
    countChunk: db.prepare<[{ size: number; now: number; expiresAt: number; id: string }], Pick<UploadRow, 'chunks_received' | 'bytes_received'>>(
      `UPDATE uploads SET chunks_received = chunks_received + 1, bytes_received = bytes_received + @size,
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
    // `from` is a JSON array so one prepared statement serves any number of source states.
    transition: db.prepare<[{ id: string; from: string; to: UploadState; fileId: string | null; now: number }]>(
      `UPDATE uploads SET state = @to, file_id = COALESCE(@fileId, file_id), updated_at = @now
       WHERE id = @id AND state IN (SELECT value FROM json_each(@from))`,
    ),
    forgetChunks: db.prepare<[string]>('DELETE FROM chunks WHERE upload_id = ?'),
    forgetClaims: db.prepare<[string]>('DELETE FROM chunk_claims WHERE upload_id = ?'),
    insertFile: db.prepare<[FileRow]>(
      `INSERT INTO files (id, upload_id, name, size, chunk_size, total_chunks, algorithm, file_digest, etag, metadata,
         blob_ref, created_at)
       VALUES (@id, @upload_id, @name, @size, @chunk_size, @total_chunks, @algorithm, @file_digest, @etag, @metadata,
         @blob_ref, @created_at)`,
    ),
    getFile: db.prepare<[string], FileRow>('SELECT * FROM files WHERE id = ?'),
    listFiles: db.prepare<[number], FileRow>('SELECT * FROM files ORDER BY created_at DESC, id LIMIT ?'),
    listDue: db.prepare<[UploadState, number, number], UploadRow>(
      'SELECT * FROM uploads WHERE state = ? AND expires_at < ? ORDER BY expires_at, id LIMIT ?',
    ),
    listUnfinished: db.prepare<[number], UploadRow>(
      `SELECT * FROM uploads WHERE state = 'uploading' AND chunks_received = total_chunks
       ORDER BY updated_at, id LIMIT ?`,
    ),
  };
}

/** Use openSqliteMetaStore(); the constructor expects a configured, migrated connection. */
export class SqliteMetaStore implements MetaStore {
  readonly #db: Database.Database;
  readonly #now: () => number;
  readonly #sql: ReturnType<typeof prepareAll>;
  readonly #recordChunk: Database.Transaction<(uploadId: string, chunk: ChunkRecord, expiresAt: number) => RecordChunkResult>;
  readonly #forgetChunks: Database.Transaction<(uploadId: string) => void>;
  /** Makes commits durable after the fact ('async' durability); null when commits are durable (or not) as made. */
  readonly #wal: WalSync | null;

  constructor(db: Database.Database, now: () => number, wal: WalSync | null = null) {
    this.#db = db;
    this.#now = now;
    this.#wal = wal;
    const sql = (this.#sql = prepareAll(db));
    this.#recordChunk = db.transaction((uploadId: string, chunk: ChunkRecord, expiresAt: number): RecordChunkResult => {
      const upload = sql.getState.get(uploadId);
      if (!upload) throw new FerryError('upload-not-found', `No upload ${uploadId}.`);
      if (upload.state !== 'uploading') return { outcome: 'closed', state: upload.state };
      const inserted = sql.insertChunk.run(uploadId, chunk.index, chunk.size, chunk.digest, chunk.receipt);
      if (inserted.changes === 0) return { outcome: 'exists', existing: toChunk(sql.getChunk.get(uploadId, chunk.index)!) };
      const counts = sql.countChunk.get({ size: chunk.size, now: this.#now(), expiresAt, id: uploadId })!;
      return { outcome: 'recorded', chunksReceived: counts.chunks_received, bytesReceived: counts.bytes_received };
    });
    this.#forgetChunks = db.transaction((uploadId: string) => {
      sql.forgetChunks.run(uploadId);
      sql.forgetClaims.run(uploadId);
    });
  }

  async createUpload(upload: UploadRecord): Promise<void> {
    this.#sql.insertUpload.run(fromUpload(upload));
    await this.#wal?.sync();
  }

  async getUpload(uploadId: string): Promise<UploadRecord | undefined> {
    await this.#durable();
    const row = this.#sql.getUpload.get(uploadId);
    return row && toUpload(row);
  }

  async listChunks(uploadId: string): Promise<ChunkRecord[]> {
    await this.#durable();
    return this.#sql.listChunks.all(uploadId).map(toChunk);
  }

  async getChunk(uploadId: string, index: number): Promise<ChunkRecord | undefined> {
    await this.#durable();
    const row = this.#sql.getChunk.get(uploadId, index);
    return row && toChunk(row);
  }

  async claimChunk(uploadId: string, index: number, token: string, expiresAt: number): Promise<boolean> {
    return this.#sql.claim.run({ id: uploadId, idx: index, token, expiresAt, now: this.#now() }).changes > 0;
  }

  async releaseChunk(uploadId: string, index: number, token: string): Promise<void> {
    this.#sql.release.run(uploadId, index, token);
  }

  async recordChunk(uploadId: string, chunk: ChunkRecord, expiresAt: number): Promise<RecordChunkResult> {
    // IMMEDIATE takes the write lock up front, so a second process cannot interleave between read and write.
    const result = this.#recordChunk.immediate(uploadId, chunk, expiresAt);
    if (result.outcome === 'recorded') await this.#wal?.sync();
    return result;
  }

  async transition(uploadId: string, from: UploadState[], to: UploadState, patch: { fileId?: string } = {}): Promise<boolean> {
    const params = { id: uploadId, from: JSON.stringify(from), to, fileId: patch.fileId ?? null, now: this.#now() };
    const changed = this.#sql.transition.run(params).changes > 0;
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

  async listFiles(limit: number): Promise<FileRecord[]> {
    await this.#durable();
    return this.#sql.listFiles.all(limit).map(toFile);
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

function fromUpload(u: UploadRecord): UploadRow {
  return {
    id: u.id,
    state: u.state,
    name: u.name,
    size: u.size,
    chunk_size: u.chunkSize,
    total_chunks: u.totalChunks,
    algorithm: u.algorithm,
    file_digest: u.fileDigest,
    metadata: JSON.stringify(u.metadata),
    blob_handle: u.blobHandle,
    chunks_received: u.chunksReceived,
    bytes_received: u.bytesReceived,
    created_at: u.createdAt,
    updated_at: u.updatedAt,
    expires_at: u.expiresAt,
    file_id: u.fileId,
  };
}

function toUpload(r: UploadRow): UploadRecord {
  return {
    id: r.id,
    state: r.state,
    name: r.name,
    size: r.size,
    chunkSize: r.chunk_size,
    totalChunks: r.total_chunks,
    algorithm: r.algorithm,
    fileDigest: r.file_digest,
    metadata: JSON.parse(r.metadata) as Record<string, unknown>,
    blobHandle: r.blob_handle,
    chunksReceived: r.chunks_received,
    bytesReceived: r.bytes_received,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    expiresAt: r.expires_at,
    fileId: r.file_id,
  };
}

function toChunk(r: ChunkRow): ChunkRecord {
  return { index: r.idx, size: r.size, digest: r.digest, receipt: r.receipt };
}

function fromFile(f: FileRecord): FileRow {
  return {
    id: f.id,
    upload_id: f.uploadId,
    name: f.name,
    size: f.size,
    chunk_size: f.chunkSize,
    total_chunks: f.totalChunks,
    algorithm: f.algorithm,
    file_digest: f.fileDigest,
    etag: f.etag,
    metadata: JSON.stringify(f.metadata),
    blob_ref: f.blobRef,
    created_at: f.createdAt,
  };
}

function toFile(r: FileRow): FileRecord {
  return {
    id: r.id,
    uploadId: r.upload_id,
    name: r.name,
    size: r.size,
    chunkSize: r.chunk_size,
    totalChunks: r.total_chunks,
    algorithm: r.algorithm,
    fileDigest: r.file_digest,
    etag: r.etag,
    metadata: JSON.parse(r.metadata) as Record<string, unknown>,
    blobRef: r.blob_ref,
    createdAt: r.created_at,
  };
}
