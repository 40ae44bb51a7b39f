// The SQLite schema as an append-only list of migrations, tracked with PRAGMA user_version.
import type Database from 'better-sqlite3';

/**
 * Migration i brings the schema from version i to i + 1. Never edit a shipped entry; append one.
 * Tables are STRICT so a wrong type is an error, not a silent coercion. Times are epoch ms.
 */
export const migrations: readonly string[] = [
  `
  CREATE TABLE uploads (
    id              TEXT PRIMARY KEY,
    state           TEXT NOT NULL CHECK (state IN ('uploading', 'complete', 'aborted', 'expired', 'failed')),
    name            TEXT NOT NULL,
    size            INTEGER NOT NULL,
    chunk_size      INTEGER NOT NULL,
    total_chunks    INTEGER NOT NULL,
    algorithm       TEXT NOT NULL,
    file_digest     TEXT,
    metadata        TEXT NOT NULL,
    blob_handle     TEXT NOT NULL,
    chunks_received INTEGER NOT NULL DEFAULT 0,
    bytes_received  INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    file_id         TEXT
  ) STRICT;
  -- listDue (state + expiry) and listUnfinished (state) both start from here.
  CREATE INDEX uploads_state_expires ON uploads (state, expires_at);

  CREATE TABLE chunks (
    upload_id TEXT NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    idx       INTEGER NOT NULL,
    size      INTEGER NOT NULL,
    digest    TEXT NOT NULL,
    receipt   TEXT NOT NULL,
    PRIMARY KEY (upload_id, idx)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE chunk_claims (
    upload_id  TEXT NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    idx        INTEGER NOT NULL,
    token      TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (upload_id, idx)
  ) STRICT, WITHOUT ROWID;

  -- No foreign key to uploads: a file outlives its upload row's tombstone.
  CREATE TABLE files (
    id           TEXT PRIMARY KEY,
    upload_id    TEXT NOT NULL,
    name         TEXT NOT NULL,
    size         INTEGER NOT NULL,
    chunk_size   INTEGER NOT NULL,
    total_chunks INTEGER NOT NULL,
    algorithm    TEXT NOT NULL,
    file_digest  TEXT,
    etag         TEXT NOT NULL,
    metadata     TEXT NOT NULL,
    blob_ref     TEXT NOT NULL,
    created_at   INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX files_created ON files (created_at);
  `,
  // 2: who owns what, API keys, grant budgets, shared secrets, the webhook outbox.
  `
  ALTER TABLE uploads ADD COLUMN owner TEXT NOT NULL DEFAULT 'anonymous';
  ALTER TABLE uploads ADD COLUMN grant_id TEXT;
  ALTER TABLE files ADD COLUMN owner TEXT NOT NULL DEFAULT 'anonymous';
  -- Listing pages: newest first, per owner or for everyone.
  CREATE INDEX files_owner_created ON files (owner, created_at DESC, id DESC);
  DROP INDEX files_created;
  CREATE INDEX files_created ON files (created_at DESC, id DESC);

  CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    identity    TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    label       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
  ) STRICT;

  CREATE TABLE grant_usage (
    grant_id   TEXT PRIMARY KEY,
    bytes      INTEGER NOT NULL,
    files      INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE webhook_outbox (
    event_id        TEXT NOT NULL,
    endpoint        TEXT NOT NULL,
    type            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    PRIMARY KEY (event_id, endpoint)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at);
  `,
  // 3: what an upload still misses, kept as ranges as chunks arrive (a status costs the gaps, not the
  // chunk rows), and each file's manifest chunk list, serialised once and served as stored bytes.
  `
  CREATE TABLE upload_gaps (
    upload_id TEXT NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    first_idx INTEGER NOT NULL,
    last_idx  INTEGER NOT NULL,
    PRIMARY KEY (upload_id, first_idx)
  ) STRICT, WITHOUT ROWID;
  -- Uploads in flight at the upgrade: the gaps between their chunk rows...
  INSERT INTO upload_gaps (upload_id, first_idx, last_idx)
  SELECT upload_id, prev + 1, idx - 1 FROM (
    SELECT c.upload_id, c.idx, LAG(c.idx, 1, -1) OVER (PARTITION BY c.upload_id ORDER BY c.idx) AS prev
    FROM chunks c JOIN uploads u ON u.id = c.upload_id WHERE u.state = 'uploading'
  ) WHERE idx > prev + 1;
  -- ...and after the last one (everything, when none has arrived).
  INSERT INTO upload_gaps (upload_id, first_idx, last_idx)
  SELECT u.id, COALESCE(MAX(c.idx), -1) + 1, u.total_chunks - 1
  FROM uploads u LEFT JOIN chunks c ON c.upload_id = u.id
  WHERE u.state = 'uploading' GROUP BY u.id
  HAVING COALESCE(MAX(c.idx), -1) + 1 <= u.total_chunks - 1;

  -- A manifest counts only once its row here exists (written after all its parts).
  CREATE TABLE manifests (
    file_id TEXT PRIMARY KEY REFERENCES files (id) ON DELETE CASCADE,
    parts   INTEGER NOT NULL,
    bytes   INTEGER NOT NULL
  ) STRICT;
  CREATE TABLE manifest_parts (
    file_id TEXT NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    part    INTEGER NOT NULL,
    data    BLOB NOT NULL,
    PRIMARY KEY (file_id, part)
  ) STRICT;
  `,
  // 4: whom an upload in progress counts against for the reservation limits: its owner, or in open mode
  // its client's address (everyone there is 'anonymous'). Indexed with the state so the check is one lookup.
  `
  ALTER TABLE uploads ADD COLUMN quota_key TEXT NOT NULL DEFAULT '';
  UPDATE uploads SET quota_key = owner;
  CREATE INDEX uploads_quota_state ON uploads (quota_key, state);
  `,
  // 5: several nodes on one store. 'completing' (one node holds the completion, as claim -1 in
  // chunk_claims) needs a new CHECK, which SQLite can change only by rebuilding the table (with foreign
  // keys off, see migrate()); named leases say which node does the shared housekeeping.
  `
  CREATE TABLE uploads_v5 (
    id              TEXT PRIMARY KEY,
    state           TEXT NOT NULL CHECK (state IN ('uploading', 'completing', 'complete', 'aborted', 'expired', 'failed')),
    name            TEXT NOT NULL,
    size            INTEGER NOT NULL,
    chunk_size      INTEGER NOT NULL,
    total_chunks    INTEGER NOT NULL,
    algorithm       TEXT NOT NULL,
    file_digest     TEXT,
    metadata        TEXT NOT NULL,
    blob_handle     TEXT NOT NULL,
    chunks_received INTEGER NOT NULL DEFAULT 0,
    bytes_received  INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    file_id         TEXT,
    owner           TEXT NOT NULL DEFAULT 'anonymous',
    grant_id        TEXT,
    quota_key       TEXT NOT NULL DEFAULT ''
  ) STRICT;
  INSERT INTO uploads_v5 (id, state, name, size, chunk_size, total_chunks, algorithm, file_digest, metadata, blob_handle,
    chunks_received, bytes_received, created_at, updated_at, expires_at, file_id, owner, grant_id, quota_key)
  SELECT id, state, name, size, chunk_size, total_chunks, algorithm, file_digest, metadata, blob_handle,
    chunks_received, bytes_received, created_at, updated_at, expires_at, file_id, owner, grant_id, quota_key FROM uploads;
  DROP TABLE uploads;
  ALTER TABLE uploads_v5 RENAME TO uploads;
  CREATE INDEX uploads_state_expires ON uploads (state, expires_at);
  CREATE INDEX uploads_quota_state ON uploads (quota_key, state);

  CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  `,
  // 6: stream uploads (tus / IETF): how an upload's bytes arrive, whether it is a tus partial upload,
  // whether its length is still deferred, and the bytes of its next chunk already staged. Uploads from
  // before are Ferry-protocol files with a known length and nothing staged (the defaults).
  `
  ALTER TABLE uploads ADD COLUMN protocol TEXT NOT NULL DEFAULT 'ferry' CHECK (protocol IN ('ferry', 'tus', 'ietf'));
  ALTER TABLE uploads ADD COLUMN role TEXT NOT NULL DEFAULT 'file' CHECK (role IN ('file', 'part'));
  ALTER TABLE uploads ADD COLUMN length_deferred INTEGER NOT NULL DEFAULT 0 CHECK (length_deferred IN (0, 1));
  ALTER TABLE uploads ADD COLUMN staged_bytes INTEGER NOT NULL DEFAULT 0 CHECK (staged_bytes >= 0);
  ALTER TABLE uploads ADD COLUMN concat_of TEXT;
  `,
  // 7: a Ferry chunk PUT cut part-way keeps the bytes that arrived: how many, on the chunk's claim row,
  // so the next writer continues from there. Claims from before have nothing staged (the default).
  `
  ALTER TABLE chunk_claims ADD COLUMN staged_bytes INTEGER NOT NULL DEFAULT 0 CHECK (staged_bytes >= 0);
  `,
];

export const schemaVersion = migrations.length;

/**
 * Applies pending migrations in one IMMEDIATE transaction, reading the version inside it so two
 * processes opening a new database at once do not both create the tables. Returns the version.
 */
export function migrate(db: Database.Database): number {
  // A migration that rebuilds a table drops the old one: with foreign keys on, that would cascade
  // to its children. SQLite ignores this pragma inside a transaction, so it is switched here and
  // the keys are checked before the transaction commits.
  const foreignKeys = db.pragma('foreign_keys', { simple: true }) as number;
  db.pragma('foreign_keys = OFF');
  try {
    return migrateWithin(db);
  } finally {
    if (foreignKeys) db.pragma('foreign_keys = ON');
  }
}

function migrateWithin(db: Database.Database): number {
  const run = db.transaction((): number => {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > migrations.length) {
      throw new Error(
        `The metadata database is at schema version ${current}; this Ferry knows up to ${migrations.length}. ` +
          'Upgrade Ferry or point it at another database.',
      );
    }
    for (let version = current; version < migrations.length; version++) {
      db.exec(migrations[version]!);
      db.pragma(`user_version = ${version + 1}`);
    }
    const broken = db.pragma('foreign_key_check') as unknown[];
    if (broken.length > 0) throw new Error(`Migrating the metadata database broke ${broken.length} foreign keys; nothing was changed.`);
    return migrations.length;
  });
  return run.immediate();
}
