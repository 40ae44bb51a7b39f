// Looks for orphaned bytes and rows in a server's data directory: the SQLite rows against uploads/ and
// files/. Safe while the server runs (a read-only WAL reader), exact once it is idle.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';

export interface Audit {
  uploads: Record<string, number>; // rows by state
  partFiles: number;
  files: number;
  chunkRows: number;
  /** Every inconsistency, one line each; empty means clean. */
  problems: string[];
}

interface Row {
  id: string;
  state: string;
  blob_handle: string;
  chunks_received: number;
  total_chunks: number;
}

export async function auditDataDir(dataDir: string): Promise<Audit> {
  const db = new Database(join(dataDir, 'meta.sqlite'), { readonly: true, fileMustExist: true });
  try {
    const uploads = db.prepare('SELECT id, state, blob_handle, chunks_received, total_chunks FROM uploads').all() as Row[];
    const chunkCounts = new Map(
      (db.prepare('SELECT upload_id AS id, COUNT(*) AS n FROM chunks GROUP BY upload_id').all() as { id: string; n: number }[]).map((r) => [r.id, r.n]),
    );
    // A lapsed claim of a killed writer on an upload still in progress is ordinary state (the next
    // writer takes it over); one on an upload that ended is left behind.
    const claims = db
      .prepare(`SELECT c.upload_id, c.idx, u.state FROM chunk_claims c LEFT JOIN uploads u ON u.id = c.upload_id WHERE u.state IS NULL OR u.state NOT IN ('uploading', 'completing')`)
      .all();
    const fileRows = new Set((db.prepare('SELECT id FROM files').all() as { id: string }[]).map((r) => r.id));
    const parts = await readdir(join(dataDir, 'uploads'));
    const stored = new Set(await readdir(join(dataDir, 'files')));
    const byId = new Map(uploads.map((u) => [u.id, u]));
    const problems: string[] = [];

    for (const name of parts) {
      if (!name.endsWith('.part')) {
        problems.push(`uploads/${name}: not a part file`);
        continue;
      }
      const row = byId.get(name.slice(0, -'.part'.length));
      if (!row) problems.push(`uploads/${name}: orphaned bytes, no upload row`);
      else if (row.state !== 'uploading') problems.push(`uploads/${name}: orphaned bytes of a ${row.state} upload`);
    }
    const partSet = new Set(parts);
    for (const u of uploads) {
      const n = chunkCounts.get(u.id) ?? 0;
      if (u.state === 'uploading' && !partSet.has(`${u.blob_handle}.part`)) problems.push(`upload ${u.id}: uploading but its part file is gone`);
      if (u.state === 'uploading' && n !== u.chunks_received) problems.push(`upload ${u.id}: ${n} chunk rows but chunks_received=${u.chunks_received}`);
      if (['aborted', 'expired', 'failed'].includes(u.state) && n > 0) problems.push(`upload ${u.id}: ${n} orphaned chunk rows of a ${u.state} upload`);
      if (u.state === 'complete' && n !== u.total_chunks) problems.push(`upload ${u.id}: complete with ${n} of ${u.total_chunks} chunk rows`);
    }
    for (const id of chunkCounts.keys()) if (!byId.has(id)) problems.push(`chunks of ${id}: rows without an upload`);
    if (claims.length > 0) problems.push(`${claims.length} chunk claim rows of ended uploads left: ${JSON.stringify(claims.slice(0, 3))}`);
    for (const name of stored) if (!fileRows.has(name)) problems.push(`files/${name}: orphaned bytes, no file row`);
    for (const id of fileRows) if (!stored.has(id)) problems.push(`file ${id}: row without bytes`);

    const states: Record<string, number> = {};
    for (const u of uploads) states[u.state] = (states[u.state] ?? 0) + 1;
    return {
      uploads: states,
      partFiles: parts.length,
      files: stored.size,
      chunkRows: [...chunkCounts.values()].reduce((a, b) => a + b, 0),
      problems,
    };
  } finally {
    db.close();
  }
}
