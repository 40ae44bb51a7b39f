// The PostgreSQL schema as an append-only list of migrations, applied once however many nodes start at once.
import type pg from 'pg';

/**
 * Migration i brings the schema from version i to i + 1. Never edit a shipped entry; append one.
 * The tables hold what the SQLite store's hold (src/stores/sqlite/schema.ts), as its schema 7 has
 * them. Times are epoch ms and sizes bytes, as bigint; ids are text in the "C" collation, so that
 * pages and orderings by id are bytewise whatever the database's locale (as in SQLite). Metadata
 * is text, not jsonb: jsonb would reorder keys and refuse some strings JSON allows.
 */
export const migrations: readonly string[] = [
  `
  CREATE TABLE uploads (
    id              text COLLATE "C" PRIMARY KEY,
    state           text NOT NULL CHECK (state IN ('uploading', 'completing', 'complete', 'aborted', 'expired', 'failed')),
    name            text NOT NULL,
    size            bigint NOT NULL,
    chunk_size      bigint NOT NULL,
    total_chunks    integer NOT NULL,
    algorithm       text NOT NULL,
    file_digest     text,
    metadata        text NOT NULL,
    blob_handle     text NOT NULL,
    chunks_received integer NOT NULL DEFAULT 0,
    bytes_received  bigint NOT NULL DEFAULT 0,
    created_at      bigint NOT NULL,
    updated_at      bigint NOT NULL,
    expires_at      bigint NOT NULL,
    file_id         text COLLATE "C",
    owner           text NOT NULL,
    grant_id        text,
    -- Whom the upload counts against for the reservation limits: its owner, or in open mode its client's address.
    quota_key       text NOT NULL
  );
  -- listDue (state, expiry, then id) and the reservation totals (state) start here.
  CREATE INDEX uploads_state_expires ON uploads (state, expires_at, id);
  CREATE INDEX uploads_quota_state ON uploads (quota_key, state);
  -- listUnfinished: the few uploads whose completion is due or under way, oldest change first.
  CREATE INDEX uploads_unfinished ON uploads (updated_at, id)
    WHERE state = 'completing' OR (state = 'uploading' AND chunks_received = total_chunks);

  CREATE TABLE chunks (
    upload_id text COLLATE "C" NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    idx       integer NOT NULL,
    size      bigint NOT NULL,
    digest    text NOT NULL,
    receipt   text NOT NULL,
    PRIMARY KEY (upload_id, idx)
  );

  -- Write leases on chunks; index -1 is the upload's completion.
  CREATE TABLE chunk_claims (
    upload_id  text COLLATE "C" NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    idx        integer NOT NULL,
    token      text NOT NULL,
    expires_at bigint NOT NULL,
    PRIMARY KEY (upload_id, idx)
  );

  -- What an upload still misses, as inclusive ranges kept up to date as chunks arrive.
  CREATE TABLE upload_gaps (
    upload_id text COLLATE "C" NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    first_idx integer NOT NULL,
    last_idx  integer NOT NULL,
    PRIMARY KEY (upload_id, first_idx)
  );

  -- No foreign key to uploads: a file outlives its upload row's tombstone.
  CREATE TABLE files (
    id           text COLLATE "C" PRIMARY KEY,
    upload_id    text COLLATE "C" NOT NULL,
    name         text NOT NULL,
    size         bigint NOT NULL,
    chunk_size   bigint NOT NULL,
    total_chunks integer NOT NULL,
    algorithm    text NOT NULL,
    file_digest  text,
    etag         text NOT NULL,
    metadata     text NOT NULL,
    blob_ref     text NOT NULL,
    created_at   bigint NOT NULL,
    owner        text NOT NULL
  );
  -- Listing pages, newest first, walked from a (created_at, id) position: per owner, or for everyone.
  CREATE INDEX files_owner_created ON files (owner, created_at DESC, id DESC);
  CREATE INDEX files_created ON files (created_at DESC, id DESC);

  -- A manifest counts only once its row here exists (written after all its parts).
  CREATE TABLE manifests (
    file_id text COLLATE "C" PRIMARY KEY REFERENCES files (id) ON DELETE CASCADE,
    parts   integer NOT NULL,
    bytes   bigint NOT NULL
  );
  CREATE TABLE manifest_parts (
    file_id text COLLATE "C" NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    part    integer NOT NULL,
    data    bytea NOT NULL,
    PRIMARY KEY (file_id, part)
  );

  CREATE TABLE api_keys (
    id          text COLLATE "C" PRIMARY KEY,
    secret_hash text NOT NULL,
    identity    text NOT NULL,
    role        text NOT NULL CHECK (role IN ('user', 'admin')),
    label       text NOT NULL,
    created_at  bigint NOT NULL,
    revoked_at  bigint
  );

  CREATE TABLE grant_usage (
    grant_id   text PRIMARY KEY,
    bytes      bigint NOT NULL,
    files      integer NOT NULL,
    expires_at bigint NOT NULL
  );
  CREATE INDEX grant_usage_expires ON grant_usage (expires_at);

  CREATE TABLE secrets (
    name  text PRIMARY KEY,
    value text NOT NULL
  );

  CREATE TABLE webhook_outbox (
    event_id        text NOT NULL,
    endpoint        text NOT NULL,
    type            text NOT NULL,
    payload         text NOT NULL,
    created_at      bigint NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at bigint NOT NULL,
    last_error      text,
    PRIMARY KEY (event_id, endpoint)
  );
  CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at, created_at);

  -- Named leases: which node does the shared housekeeping.
  CREATE TABLE leases (
    name       text PRIMARY KEY,
    holder     text NOT NULL,
    expires_at bigint NOT NULL
  );
  `,
  // 2: stream uploads (tus / IETF): how an upload's bytes arrive, whether it is a tus partial upload,
  // whether its length is still deferred, and the bytes of its next chunk already staged. Uploads from
  // before are Ferry-protocol files with a known length and nothing staged (the defaults). Partial
  // uploads and deferred lengths never complete by themselves: listUnfinished's index leaves them out.
  `
  ALTER TABLE uploads
    ADD COLUMN protocol        text NOT NULL DEFAULT 'ferry' CHECK (protocol IN ('ferry', 'tus', 'ietf')),
    ADD COLUMN role            text NOT NULL DEFAULT 'file' CHECK (role IN ('file', 'part')),
    ADD COLUMN length_deferred boolean NOT NULL DEFAULT false,
    ADD COLUMN staged_bytes    bigint NOT NULL DEFAULT 0 CHECK (staged_bytes >= 0),
    ADD COLUMN concat_of       text;
  DROP INDEX uploads_unfinished;
  CREATE INDEX uploads_unfinished ON uploads (updated_at, id)
    WHERE (state = 'completing' OR (state = 'uploading' AND chunks_received = total_chunks)) AND role = 'file' AND NOT length_deferred;
  `,
  // 3: a Ferry chunk PUT cut part-way keeps the bytes that arrived: how many, on the chunk's claim row,
  // so the next writer continues from there. Claims from before have nothing staged (the default).
  `
  ALTER TABLE chunk_claims ADD COLUMN staged_bytes bigint NOT NULL DEFAULT 0 CHECK (staged_bytes >= 0);
  `,
];

export const schemaVersion = migrations.length;

/** Advisory lock key (any fixed bigint): held by the transaction that migrates, so one node at a time does. */
const migrationLock = 0x6665727279n; // "ferry"

/**
 * Applies pending migrations in one transaction under a transaction-scoped advisory lock: nodes
 * starting together queue on the lock, the first migrates, the others find the schema current.
 * The version table records each applied version. Returns the schema version.
 */
export async function migrate(client: pg.ClientBase): Promise<number> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [migrationLock.toString()]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_version (
         version    integer PRIMARY KEY,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await client.query<{ version: number | null }>('SELECT max(version) AS version FROM schema_version');
    const current = rows[0]?.version ?? 0;
    if (current > migrations.length) {
      throw new Error(
        `The metadata database is at schema version ${current}; this Ferry knows up to ${migrations.length}. ` +
          'Upgrade Ferry or point it at another database.',
      );
    }
    for (let version = current; version < migrations.length; version++) {
      await client.query(migrations[version]!);
      await client.query('INSERT INTO schema_version (version) VALUES ($1)', [version + 1]);
    }
    await client.query('COMMIT');
    return migrations.length;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
