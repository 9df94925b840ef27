import type Database from 'better-sqlite3';

/**
 * Group commit: writes are queued and run together in one transaction, so
 * one fsync (synchronous=FULL) makes a whole batch durable instead of each
 * write paying its own. The queue is flushed on the next `setImmediate`, or at
 * once when it reaches `maxBatch`.
 *
 * Writes run one after another in the order they were submitted, so a
 * compare-and-set sees every earlier write of its batch. A write that needs
 * several statements wraps them in a better-sqlite3 `db.transaction`, which
 * inside the batch becomes a savepoint: when it throws, only its own changes
 * are rolled back and only its own promise rejects. Every promise settles
 * after COMMIT has returned, never before.
 */
export class GroupCommit {
  readonly #db: Database.Database;
  readonly #maxBatch: number;
  readonly #translate: (err: unknown) => unknown;
  readonly #begin: Database.Statement;
  readonly #commit: Database.Statement;
  readonly #rollback: Database.Statement;
  #queue: PendingWrite[] = [];
  #scheduled: NodeJS.Immediate | undefined;
  readonly #flushSoon = () => {
    this.#scheduled = undefined;
    this.flush();
  };

  constructor(db: Database.Database, options: { maxBatch: number; translate: (err: unknown) => unknown }) {
    this.#db = db;
    this.#maxBatch = options.maxBatch;
    this.#translate = options.translate;
    // IMMEDIATE takes the write lock up front rather than upgrading mid-batch
    this.#begin = db.prepare('BEGIN IMMEDIATE');
    this.#commit = db.prepare('COMMIT');
    this.#rollback = db.prepare('ROLLBACK');
  }

  /** Queues `write`; the promise settles with its result once its batch is committed. */
  submit<T>(write: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ write, resolve: resolve as (value: unknown) => void, reject });
      if (this.#queue.length >= this.#maxBatch) this.flush();
      else this.#scheduled ??= setImmediate(this.#flushSoon);
    });
  }

  /** Runs and commits everything queued, synchronously. */
  flush(): void {
    if (this.#scheduled !== undefined) {
      clearImmediate(this.#scheduled);
      this.#scheduled = undefined;
    }
    const batch = this.#queue;
    if (batch.length === 0) return;
    this.#queue = [];

    const results: unknown[] = new Array(batch.length);
    const failed: boolean[] = new Array(batch.length).fill(false);
    try {
      this.#begin.run();
      for (let i = 0; i < batch.length; i++) {
        try {
          results[i] = batch[i]!.write();
        } catch (err) {
          // Some faults (disk full, I/O error) make SQLite roll back the whole
          // transaction: then nothing of the batch is kept, so all must fail.
          if (!this.#db.inTransaction) throw err;
          results[i] = err;
          failed[i] = true;
        }
      }
      this.#commit.run();
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
    for (let i = 0; i < batch.length; i++) {
      const pending = batch[i]!;
      if (failed[i]) pending.reject(this.#translate(results[i]));
      else pending.resolve(results[i]);
    }
  }
}

interface PendingWrite {
  readonly write: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (reason: unknown) => void;
}
