import type Database from 'better-sqlite3';

/**
 * Group commit: writes are queued and run together in one transaction, so
 * one fsync (synchronous=FULL) makes a whole batch durable instead of each
 * write paying its own. The queue is flushed on the next `setImmediate`, or at
 * once when it reaches `maxBatch`.
 *
 * Writes run one after another in the order they were submitted, so a
 * compare-and-set sees every earlier write of its batch. Every promise
 * settles after COMMIT has returned, never before.
 *
 * A write that fails must leave nothing behind and fail alone. One SQL
 * statement is atomic by itself; a write of several statements (submitted
 * with `multiStatement`) is not, and a savepoint around each would make it so
 * at a price paid by every write (SAVEPOINT, RELEASE, and a copy of every page
 * it touches into the statement journal). So a batch first runs without
 * savepoints. A multi-statement write that throws after it changed rows
 * (SQLite's `total_changes()` moved) cannot be undone alone: then the batch is
 * rolled back and run again from the start, each multi-statement write in its
 * own savepoint (a better-sqlite3 `db.transaction` inside the batch's
 * transaction), where only the failing write's changes are rolled back. Writes
 * must therefore be repeatable: they read the database, not state they change
 * elsewhere. A fault that makes SQLite roll back the whole transaction (disk
 * full, I/O error) fails the whole batch.
 *
 * It also keeps the connection's reads together (`read`): the reads of one
 * turn of the event loop share one read transaction.
 */
export class GroupCommit {
  readonly #db: Database.Database;
  readonly #maxBatch: number;
  readonly #translate: (err: unknown) => unknown;
  readonly #onCommit: (() => void) | undefined;
  readonly #begin: Database.Statement;
  readonly #commit: Database.Statement;
  readonly #rollback: Database.Statement;
  readonly #totalChanges: Database.Statement<[], number>;
  readonly #inSavepoint: (write: () => unknown) => unknown;
  readonly #beginRead: Database.Statement;
  #queue: PendingWrite[] = [];
  #scheduled: NodeJS.Immediate | undefined;
  readonly #flushSoon = () => {
    this.#scheduled = undefined;
    this.flush();
  };
  /** a read transaction is open (see `read`) */
  #reading = false;
  #readEnd: NodeJS.Immediate | undefined;
  readonly #endReadSoon = () => {
    this.#readEnd = undefined;
    this.endRead();
  };

  constructor(
    db: Database.Database,
    options: { maxBatch: number; translate: (err: unknown) => unknown; onCommit?: () => void },
  ) {
    this.#db = db;
    this.#maxBatch = options.maxBatch;
    this.#translate = options.translate;
    this.#onCommit = options.onCommit;
    // IMMEDIATE takes the write lock up front rather than upgrading mid-batch
    this.#begin = db.prepare('BEGIN IMMEDIATE');
    this.#commit = db.prepare('COMMIT');
    this.#rollback = db.prepare('ROLLBACK');
    this.#beginRead = db.prepare('BEGIN');
    this.#totalChanges = db.prepare<[], number>('SELECT total_changes()').pluck();
    this.#inSavepoint = db.transaction((write: () => unknown) => write());
  }

  /**
   * Queues `write`; the promise settles with its result once its batch is
   * committed. `multiStatement`: the write runs more than one statement that
   * changes rows (see the class comment).
   */
  submit<T>(write: () => T, multiStatement = false): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push(new PendingWrite(write, multiStatement, resolve as (value: unknown) => void, reject));
      if (this.#queue.length >= this.#maxBatch) this.flush();
      else this.#scheduled ??= setImmediate(this.#flushSoon);
    });
  }

  /**
   * Runs `read` in the read transaction of this turn of the event loop: the
   * first read of a turn begins it, and it ends on the next `setImmediate` or
   * when a batch of writes is about to begin, whichever comes first. Outside a
   * transaction every statement takes and drops WAL read locks itself (each a
   * system call), which costs a single-row read about as much as the read.
   * The reads of one turn see one snapshot; a write of this store committed
   * before a read is always seen by it.
   */
  read<T>(read: () => T): T {
    if (!this.#reading) {
      this.#beginRead.run();
      this.#reading = true;
      this.#readEnd ??= setImmediate(this.#endReadSoon);
    }
    try {
      return read();
    } catch (err) {
      // a fault that ended the transaction
      if (!this.#db.inTransaction) this.#reading = false;
      throw err;
    }
  }

  /** Runs and commits everything queued, synchronously (and ends the read transaction). */
  flush(): void {
    this.endRead();
    if (this.#scheduled !== undefined) {
      clearImmediate(this.#scheduled);
      this.#scheduled = undefined;
    }
    const batch = this.#queue;
    if (batch.length === 0) return;
    this.#queue = [];

    try {
      if (!this.#run(batch, false)) this.#run(batch, true);
    } catch (err) {
      try {
        if (this.#db.inTransaction) this.#rollback.run();
      } catch {
        // the connection is broken: the batch is already rejected below
      }
      const error = this.#translate(err);
      for (const pending of batch) pending.reject(error);
      return;
    }
    this.#onCommit?.();
    for (const pending of batch) {
      if (pending.failed) pending.reject(this.#translate(pending.outcome));
      else pending.resolve(pending.outcome);
    }
  }

  /** Ends this turn's read transaction now (the next read begins a new snapshot). */
  endRead(): void {
    if (!this.#reading) return;
    this.#reading = false;
    if (this.#readEnd !== undefined) {
      clearImmediate(this.#readEnd);
      this.#readEnd = undefined;
    }
    if (!this.#db.inTransaction) return;
    try {
      this.#commit.run();
    } catch {
      // ending a read cannot lose anything; whatever broke shows on the next statement
      if (this.#db.inTransaction) this.#rollback.run();
    }
  }

  /**
   * One transaction over the batch. Returns false, having rolled back, when a
   * write failed halfway and the batch must run again `guarded` (savepoints).
   */
  #run(batch: PendingWrite[], guarded: boolean): boolean {
    this.#begin.run();
    for (const pending of batch) {
      const watch = pending.multiStatement && !guarded;
      const before = watch ? this.#totalChanges.get()! : 0;
      try {
        pending.outcome = guarded && pending.multiStatement ? this.#inSavepoint(pending.write) : pending.write();
        pending.failed = false;
      } catch (err) {
        // Some faults (disk full, I/O error) make SQLite roll back the whole
        // transaction: then nothing of the batch is kept, so all must fail.
        if (!this.#db.inTransaction) throw err;
        if (watch && this.#totalChanges.get() !== before) {
          this.#rollback.run();
          return false;
        }
        pending.outcome = err;
        pending.failed = true;
      }
    }
    this.#commit.run();
    return true;
  }
}

class PendingWrite {
  outcome: unknown = undefined;
  failed = false;
  constructor(
    readonly write: () => unknown,
    readonly multiStatement: boolean,
    readonly resolve: (value: unknown) => void,
    readonly reject: (reason: unknown) => void,
  ) {}
}
