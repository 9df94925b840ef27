import type Database from 'better-sqlite3';

export interface SqliteStoreOptions {
  /** the database file (its folder is created if missing), or ':memory:' */
  readonly path: string;
  /**
   * FULL (the default): a write is on disk when its promise resolves.
   * NORMAL: it survives a crash of the process but not of the machine (WAL
   * is synced at checkpoints only); several times more writes per second.
   */
  readonly synchronous?: 'FULL' | 'NORMAL';
  /** the clock that decides whether an idempotency key has expired */
  readonly now?: () => number;
  /** most writes committed in one transaction (default 1000) */
  readonly maxBatch?: number;
  /** how long a write waits for a lock held by another connection (default 5000 ms) */
  readonly busyTimeoutMs?: number;
  /**
   * Who copies the WAL back into the database file. 'background' (the
   * default): a worker thread (checkpointer.ts), so commits never stall on
   * it. 'inline': SQLite's automatic checkpoint inside COMMIT, every 1000
   * pages. A ':memory:' database has no WAL.
   */
  readonly checkpoint?: 'background' | 'inline';
  /**
   * Which thread writes. 'inline' (the default): this thread, on the store's
   * connection, in group commits. 'thread': a worker thread with its own
   * connection (writer.ts), so COMMIT and its fsync never block the event
   * loop, at about 15% more CPU per write for the hand-offs. A ':memory:'
   * database is always written inline (no other connection sees it).
   */
  readonly writer?: 'thread' | 'inline';
}

/** The connection settings a SqliteStore runs with, as SQLite reports them. */
export interface SqlitePragmas {
  readonly journalMode: string;
  readonly foreignKeys: boolean;
  readonly synchronous: 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA';
  readonly busyTimeoutMs: number;
  readonly tempStore: 'DEFAULT' | 'FILE' | 'MEMORY';
  /** WAL pages after which a commit also checkpoints (the backstop while a background checkpointer runs) */
  readonly walAutocheckpoint: number;
}

/** The connection's settings, as SQLite reports them. */
export function readPragmas(db: Database.Database): SqlitePragmas {
  const synchronous = ['OFF', 'NORMAL', 'FULL', 'EXTRA'] as const;
  return {
    journalMode: String(db.pragma('journal_mode', { simple: true })),
    foreignKeys: db.pragma('foreign_keys', { simple: true }) === 1,
    synchronous: synchronous[Number(db.pragma('synchronous', { simple: true }))] ?? 'FULL',
    busyTimeoutMs: Number(db.pragma('busy_timeout', { simple: true })),
    tempStore: (['DEFAULT', 'FILE', 'MEMORY'] as const)[Number(db.pragma('temp_store', { simple: true }))] ?? 'DEFAULT',
    walAutocheckpoint: Number(db.pragma('wal_autocheckpoint', { simple: true })),
  };
}
