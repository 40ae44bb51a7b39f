// The PostgreSQL metadata store: the shared contract, plus migrations, several nodes at once, retries and connection errors.
import pg from 'pg';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { openPostgresMetaStore, statements, type PostgresMetaStore } from '../../src/stores/postgres/meta-store.js';
import type { UploadRecord } from '../../src/stores/types.js';
import { migrations } from '../../src/stores/postgres/schema.js';
import { streamWriterClaim } from '../../src/stores/held-claim.js';
import { postgresSkipReason, testPostgres } from '../helpers/postgres.js';
import { closedPort } from '../helpers/ports.js';
import { describeMetaStoreContract, expectUpgradedForStreams, sampleChunk, sampleUpload } from './meta-store-contract.js';

// Outside CI a machine where embedded PostgreSQL cannot start skips these (with the reason); in CI this throws.
const skip = await postgresSkipReason();

async function freshUrl(): Promise<string> {
  return (await testPostgres()).newDatabase();
}

/** Runs `body` on a plain connection to `url` (to look behind the store, or hold locks it must wait for). */
async function withClient<T>(url: string, body: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}

/** Polls `check` until it holds, failing after `ms`. */
async function until(check: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A logger whose JSON lines are kept in `lines`. */
function memoryLog(): { log: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { log, lines };
}

describe.skipIf(skip !== null)('PostgreSQL', () => {
  describeMetaStoreContract('postgres', async () => openPostgresMetaStore(await freshUrl()));

  describe('PostgresMetaStore', () => {
    it('creates the schema once and reopens a current database without migrating again', async () => {
      const url = await freshUrl();
      const first = await openPostgresMetaStore(url);
      const upload = sampleUpload({ metadata: { kept: true, order: { z: 1, a: 2 } } });
      await first.createUpload(upload);
      await first.recordChunk(upload.id, sampleChunk(2), upload.expiresAt + 5);
      await first.close();
      await first.close(); // closing twice is harmless

      const second = await openPostgresMetaStore(url);
      try {
        const stored = await second.getUpload(upload.id);
        expect(stored).toMatchObject({ ...upload, chunksReceived: 1, bytesReceived: sampleChunk(2).size, expiresAt: upload.expiresAt + 5, updatedAt: expect.any(Number) });
        // Metadata comes back as it went in, key order too (as text, like SQLite; jsonb would reorder).
        expect(JSON.stringify(stored!.metadata)).toBe(JSON.stringify(upload.metadata));
        expect(await second.listMissing(upload.id, -1, 10)).toEqual([
          { first: 0, last: 1 },
          { first: 3, last: 3 },
        ]);
      } finally {
        await second.close();
      }
      const versions = await withClient(url, async (c) => (await c.query('SELECT version FROM schema_version ORDER BY version')).rows.map((r) => r.version));
      expect(versions).toEqual(migrations.map((_, i) => i + 1));
    });

    it('migrates once when several nodes open the same empty database at the same moment', async () => {
      const url = await freshUrl();
      const stores = await Promise.all(Array.from({ length: 4 }, () => openPostgresMetaStore(url)));
      try {
        const upload = sampleUpload();
        await stores[0]!.createUpload(upload);
        for (const s of stores) expect((await s.getUpload(upload.id))?.id).toBe(upload.id);
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
      const { versions, uploadsTables } = await withClient(url, async (c) => ({
        versions: (await c.query('SELECT version FROM schema_version ORDER BY version')).rows.map((r) => r.version),
        uploadsTables: Number((await c.query(`SELECT count(*) AS n FROM pg_tables WHERE tablename = 'uploads'`)).rows[0].n),
      }));
      expect(versions).toEqual(migrations.map((_, i) => i + 1));
      expect(uploadsTables).toBe(1);
    });

    it('upgrades a database from before stream uploads (schema 1): its uploads are Ferry-protocol files, nothing staged', async () => {
      const url = await freshUrl();
      const t = Date.now();
      await withClient(url, async (c) => {
        await c.query(migrations[0]!);
        await c.query('CREATE TABLE schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
        await c.query('INSERT INTO schema_version (version) VALUES (1)');
        const insert = `INSERT INTO uploads (id, state, name, size, chunk_size, total_chunks, algorithm, metadata, blob_handle, chunks_received,
            bytes_received, created_at, updated_at, expires_at, owner, quota_key)
          VALUES ($1, 'uploading', 'old.bin', 20, 10, 2, 'sha-256', '{}', 'h', $2, 0, $3, $3, $4, 'ana', 'ana')`;
        await c.query(insert, ['half', 1, t, t + 60_000]);
        await c.query(insert, ['full', 2, t, t + 60_000]);
        await c.query(`INSERT INTO upload_gaps (upload_id, first_idx, last_idx) VALUES ('half', 1, 1)`);
      });
      const store = await openPostgresMetaStore(url);
      try {
        await expectUpgradedForStreams(store, t + 60_000);
      } finally {
        await store.close();
      }
      const versions = await withClient(url, async (c) => (await c.query('SELECT version FROM schema_version ORDER BY version')).rows.map((r) => r.version));
      expect(versions).toEqual(migrations.map((_, i) => i + 1));
    });

    it('refuses a database written by a newer schema, changing nothing', async () => {
      const url = await freshUrl();
      await (await openPostgresMetaStore(url)).close();
      await withClient(url, (c) => c.query('INSERT INTO schema_version (version) VALUES ($1)', [migrations.length + 1]));
      await expect(openPostgresMetaStore(url)).rejects.toThrow(`schema version ${migrations.length + 1}; this Ferry knows up to ${migrations.length}`);
    });

    it('shares claims, chunks and transitions between two nodes on one database', async () => {
      const url = await freshUrl();
      const a = await openPostgresMetaStore(url);
      const b = await openPostgresMetaStore(url);
      try {
        const upload = sampleUpload();
        await a.createUpload(upload);
        const until = Date.now() + 60_000;
        expect(await a.claimChunk(upload.id, 0, 'a', until)).toBe(true);
        expect(await b.claimChunk(upload.id, 0, 'b', until)).toBe(false);
        expect(await b.recordChunk(upload.id, sampleChunk(0), upload.expiresAt)).toMatchObject({ outcome: 'recorded', chunksReceived: 1 });
        expect(await a.recordChunk(upload.id, sampleChunk(0), upload.expiresAt)).toMatchObject({ outcome: 'exists' });
        const wins = await Promise.all([a.transition(upload.id, ['uploading'], 'complete', { fileId: 'f1' }), b.transition(upload.id, ['uploading'], 'aborted')]);
        expect(wins.filter(Boolean)).toHaveLength(1);
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('never lets creates on several nodes pass a limit on everyone’s total', async () => {
      const url = await freshUrl();
      const nodes = await Promise.all([openPostgresMetaStore(url), openPostgresMetaStore(url), openPostgresMetaStore(url)]);
      try {
        const limits = { maxUploads: null, maxBytes: null, maxTotalBytes: 100, maxPendingBytes: null };
        // Every create under its own key: only the lock on the totals keeps them from overshooting together.
        const results = await Promise.all(
          Array.from({ length: 30 }, (_, i) => nodes[i % 3]!.createUploadWithin(sampleUpload({ size: 10, owner: `u${i}` }), { ...limits, key: `u${i}` })),
        );
        expect(results.filter((r) => r.ok)).toHaveLength(10);
        expect((await nodes[0]!.reservations('nobody')).totalBytes).toBe(100);
      } finally {
        await Promise.all(nodes.map((s) => s.close()));
      }
    });

    // A chunk writer (recordChunk, its chunk's claim) and a stream writer (advanceStream, the stream writer's claim).
    const writers = [
      {
        who: 'a writer',
        claim: 0,
        write: (store: PostgresMetaStore, upload: UploadRecord, token: string) => store.recordChunk(upload.id, sampleChunk(0), upload.expiresAt, token),
        done: { outcome: 'recorded', chunksReceived: 1 },
      },
      {
        who: 'a stream writer',
        claim: streamWriterClaim,
        write: (store: PostgresMetaStore, upload: UploadRecord, claimToken: string) =>
          store.advanceStream(upload.id, { from: { chunksReceived: 0, stagedBytes: 0 }, claimToken, chunks: [sampleChunk(0)], stagedBytes: 9, expiresAt: upload.expiresAt }),
        done: { outcome: 'advanced', upload: { chunksReceived: 1, stagedBytes: 9 } },
      },
    ];
    for (const writer of writers) {
      it(`answers claim-lost to ${writer.who} whose claim was taken over while it waited for the upload row`, async () => {
        const url = await freshUrl();
        let now = 1_000_000;
        const store = await openPostgresMetaStore(url, { now: () => now });
        try {
          const upload = sampleUpload({ protocol: writer.claim === streamWriterClaim ? 'tus' : 'ferry' });
          await store.createUpload(upload);
          expect(await store.claimChunk(upload.id, writer.claim, 'stalled', now + 500)).toBe(true);
          const outcome = await withClient(url, async (holder) => {
            // Another transaction holds the upload row: the stalled writer waits for it.
            await holder.query('BEGIN');
            await holder.query('SELECT 1 FROM uploads WHERE id = $1 FOR UPDATE', [upload.id]);
            const written = writer.write(store, upload, 'stalled');
            await until(async () => {
              const waiting = await holder.query(
                `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'`,
              );
              return (waiting.rowCount ?? 0) > 0;
            }, 'the writer to wait for the upload row');
            // Meanwhile the claim expires and another writer takes it over (committed).
            now += 1_000;
            expect(await store.claimChunk(upload.id, writer.claim, 'taker', now + 60_000)).toBe(true);
            await holder.query('COMMIT');
            return written;
          });
          expect(outcome).toEqual({ outcome: 'claim-lost' });
          expect(await store.getChunk(upload.id, 0)).toBeUndefined();
          expect(await store.getUpload(upload.id)).toEqual(upload);
          expect(await writer.write(store, upload, 'taker')).toMatchObject(writer.done);
        } finally {
          await store.close();
        }
      });
    }

    it('opens at most poolSize connections', async () => {
      const url = await freshUrl();
      const store = await openPostgresMetaStore(url, { poolSize: 2 });
      try {
        const uploads = Array.from({ length: 6 }, () => sampleUpload());
        await Promise.all(uploads.map((u) => store.createUpload(u)));
        await Promise.all(uploads.map((u, i) => store.recordChunk(u.id, sampleChunk(i % 4), u.expiresAt)));
        const open = await withClient(url, async (c) =>
          Number((await c.query(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'ferry'`)).rows[0].n),
        );
        expect(open).toBeGreaterThan(0);
        expect(open).toBeLessThanOrEqual(2);
      } finally {
        await store.close();
      }
    });

    it('uses the injected clock for claim and lease expiry', async () => {
      let now = 1_000_000;
      const store = await openPostgresMetaStore(await freshUrl(), { now: () => now });
      try {
        const upload = sampleUpload();
        await store.createUpload(upload);
        expect(await store.claimChunk(upload.id, 0, 'a', 1_000_500)).toBe(true);
        expect(await store.claimChunk(upload.id, 0, 'b', 2_000_000)).toBe(false);
        expect(await store.claimLease('sweep', 'a', 1_000_500)).toBe(true);
        expect(await store.claimLease('sweep', 'b', 2_000_000)).toBe(false);
        now = 1_000_500; // the claim runs until, not through, its expiry
        expect(await store.claimChunk(upload.id, 0, 'b', 2_000_000)).toBe(true);
        expect(await store.claimLease('sweep', 'b', 2_000_000)).toBe(true);
        expect((await store.transition(upload.id, ['uploading'], 'aborted')) && (await store.getUpload(upload.id))!.updatedAt).toBe(1_000_500);
      } finally {
        await store.close();
      }
    });

    it('walks the file listings on their indexes, from the position, without sorting', async () => {
      const url = await freshUrl();
      await (await openPostgresMetaStore(url)).close();
      const plans = await withClient(url, async (c) => {
        await c.query('SET enable_seqscan = off'); // an empty table would be scanned whatever the indexes
        const explain = async (sql: string) => (await c.query(`EXPLAIN (GENERIC_PLAN) ${sql}`)).rows.map((r) => r['QUERY PLAN'] as string).join('\n');
        return [await explain(statements.listFiles), await explain(statements.listOwnerFiles)];
      });
      expect(plans[0]).toMatch(/Index Scan using files_created on files[\s\S]*Index Cond: \(ROW\(created_at, id\) < ROW/);
      expect(plans[1]).toMatch(/Index Scan using files_owner_created on files[\s\S]*Index Cond: \(\(owner = \$4\) AND \(ROW\(created_at, id\) < ROW/);
      for (const plan of plans) expect(plan).not.toMatch(/Sort/);
    });

    it('finds the uploads whose completion is due on their partial index, without sorting', async () => {
      const url = await freshUrl();
      await (await openPostgresMetaStore(url)).close();
      const plan = await withClient(url, async (c) => {
        await c.query('SET enable_seqscan = off');
        return (await c.query(`EXPLAIN (GENERIC_PLAN) ${statements.listUnfinished}`)).rows.map((r) => r['QUERY PLAN'] as string).join('\n');
      });
      expect(plan).toMatch(/Index Scan using uploads_unfinished on uploads/);
      expect(plan).not.toMatch(/Sort/);
    });
  });

  describe('transient failures', () => {
    it('retries a transaction whose connection the server ended mid-way, on a new connection', async () => {
      const url = await freshUrl();
      const { log, lines } = memoryLog();
      const store = await openPostgresMetaStore(url, { log });
      const upload = sampleUpload();
      await store.createUpload(upload);
      try {
        await withClient(url, async (admin) => {
          // Hold the upload's row so recordChunk waits inside its transaction, then end its session.
          await admin.query('BEGIN');
          await admin.query('SELECT 1 FROM uploads WHERE id = $1 FOR UPDATE', [upload.id]);
          const recorded = store.recordChunk(upload.id, sampleChunk(1), upload.expiresAt);
          let victim = 0;
          await until(async () => {
            const waiting = await admin.query(
              `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'`,
            );
            victim = waiting.rows[0]?.pid ?? 0;
            return victim !== 0;
          }, 'recordChunk to wait for the row lock');
          expect((await admin.query('SELECT pg_terminate_backend($1) AS done', [victim])).rows[0].done).toBe(true);
          await admin.query('ROLLBACK');
          expect(await recorded).toEqual({ outcome: 'recorded', chunksReceived: 1, bytesReceived: sampleChunk(1).size });
        });
        expect(await store.listChunks(upload.id)).toEqual([sampleChunk(1)]);
        expect(lines.some((l) => l.event === 'postgres-retry' && l.code === '57P01')).toBe(true);
      } finally {
        await store.close();
      }
    });

    it('goes on after the server ends its idle pooled connections', async () => {
      const url = await freshUrl();
      const store = await openPostgresMetaStore(url, { poolSize: 2 });
      const upload = sampleUpload();
      await store.createUpload(upload);
      try {
        for (let round = 0; round < 3; round++) {
          const ended = await withClient(url, async (admin) => {
            const r = await admin.query(
              `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS n FROM pg_stat_activity
               WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = 'ferry'`,
            );
            return Number(r.rows[0].n);
          });
          expect(ended).toBeGreaterThan(0);
          // No pause: the very next calls may get a connection whose end has not been noticed yet.
          expect(await store.recordChunk(upload.id, sampleChunk(round), upload.expiresAt)).toMatchObject({ outcome: 'recorded', chunksReceived: round + 1 });
          expect(await store.getChunk(upload.id, round)).toEqual(sampleChunk(round));
        }
      } finally {
        await store.close();
      }
    });
  });

  describe('connection errors', () => {
    const withoutPassword = (message: string, url: string) => expect(message).not.toContain(new URL(url).password);

    it('ping answers for a reachable database', async () => {
      const store = await openPostgresMetaStore(await freshUrl());
      try {
        await expect(store.ping()).resolves.toBeUndefined();
      } finally {
        await store.close();
      }
    });

    it('says in one line that nothing listens at the address', async () => {
      const url = new URL(await freshUrl());
      url.port = String(await closedPort());
      const err = (await openPostgresMetaStore(url.href).catch((e: unknown) => e)) as Error;
      expect(err.message).toBe(`cannot reach PostgreSQL at 127.0.0.1:${url.port}: ECONNREFUSED`);
    });

    it('says which database does not exist, at open and on ping', async () => {
      const good = await freshUrl();
      const url = new URL(good);
      url.pathname = '/no_such_db';
      const err = (await openPostgresMetaStore(url.href).catch((e: unknown) => e)) as Error;
      expect(err.message).toBe(`database no_such_db does not exist on PostgreSQL at 127.0.0.1:${url.port}`);

      // A database dropped under a running store (its connections ended with it): ping says so.
      const store = await openPostgresMetaStore(good);
      const name = new URL(good).pathname.slice(1);
      try {
        await store.ping();
        await withClient((await testPostgres()).url, (c) => c.query(`DROP DATABASE ${name} WITH (FORCE)`));
        const lost = (await store.ping().catch((e: unknown) => e)) as Error;
        expect(lost.message).toBe(`database ${name} does not exist on PostgreSQL at 127.0.0.1:${url.port}`);
        withoutPassword(lost.message, good);
      } finally {
        await store.close();
      }
    });

    it('says the login was refused, never showing the password', async () => {
      const url = new URL(await freshUrl());
      url.password = 'wrong-secret-123';
      const err = (await openPostgresMetaStore(url.href).catch((e: unknown) => e)) as Error;
      expect(err.message).toMatch(new RegExp(`^PostgreSQL at 127\\.0\\.0\\.1:${url.port} refused the login for user postgres \\(`));
      expect(err.message).not.toContain('wrong-secret-123');
      expect(err.message.split('\n')).toHaveLength(1);
    });
  });
});
