import Database from 'better-sqlite3';

export interface ConnectionSettings {
  readonly synchronous: 'FULL' | 'NORMAL';
  readonly busyTimeoutMs: number;
  /** WAL pages after which a commit of this connection checkpoints (SQLite's automatic checkpoint); undefined keeps SQLite's */
  readonly autocheckpointFrames?: number;
}

/**
 * Opens a connection to the store's database with the settings every
 * connection that writes it needs: WAL (unless ':memory:'), foreign keys,
 * the busy timeout, the durability setting, temporary structures in memory.
 * The store's main connection and its writer thread's both come from here.
 */
export function openConnection(path: string, settings: ConnectionSettings, options: Database.Options = {}): Database.Database {
  const db = new Database(path, options);
  try {
    if (path !== ':memory:') {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new Error(`SQLite refused WAL mode for ${path} (it is ${String(mode)})`);
    }
    db.pragma('foreign_keys = ON');
    db.pragma(`busy_timeout = ${Math.trunc(settings.busyTimeoutMs)}`);
    db.pragma(`synchronous = ${settings.synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'}`);
    // SQLite's temporary structures in memory. better-sqlite3 builds SQLite
    // to keep them in temporary files, and the statement journal that
    // savepoints fill spills into one past 64 KiB: in a batch of a few hundred
    // writes, every page a write touched then cost a write(2) (ten times the
    // WAL's own), and UPDATE ... RETURNING paid for a file-backed buffer.
    db.pragma('temp_store = MEMORY');
    if (settings.autocheckpointFrames !== undefined) db.pragma(`wal_autocheckpoint = ${Math.trunc(settings.autocheckpointFrames)}`);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}
