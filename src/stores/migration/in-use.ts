// Whether a process (a running server) has a data directory's SQLite database open: migrating while it
// takes uploads would miss what it writes meanwhile.
import Database from 'better-sqlite3';

/**
 * True while another connection has the database open. Every connection to a WAL database holds a
 * shared lock for as long as it is open; a connection in exclusive locking mode needs the database to
 * itself, so its first transaction fails at once (busy) if anyone else has it open.
 */
export function databaseInUse(path: string): boolean {
  const db = new Database(path, { timeout: 0, fileMustExist: true });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    db.exec('COMMIT');
    return false;
  } catch (error) {
    if ((error as { code?: string }).code === 'SQLITE_BUSY') return true;
    throw error;
  } finally {
    db.close();
  }
}
