import { AppiaError } from '../../domain/errors.js';
import type { PooledClient, SqlClient, SqlPool, SqlQuery, SqlResult } from './client.js';
import { isLostConnection, storeError } from './errors.js';

/**
 * Runs the store's statements on the pool: reads, single writes, and
 * transactions on one held connection. Every failure comes out as an
 * AppiaError (errors.ts). It counts what is in flight, so `close` can let it
 * finish before the pool ends.
 *
 * A pooled connection may be dead when it is handed out (PostgreSQL
 * restarted, or ended the backend, before the pool noticed). The runner then
 * tries again on another connection, as often as the pool has connections
 * that could all be dead, wherever that cannot apply a write twice: reads
 * (at any point), and transactions that lost their connection before COMMIT
 * was sent (PostgreSQL rolled them back). A single write is sent as BEGIN,
 * the statement and COMMIT in one pipelined round trip, so its BEGIN failing
 * proves nothing ran. A failure to connect at all is not retried: the server
 * is away, and the caller hears `unavailable` at once.
 */
export class QueryRunner {
  readonly #pool: SqlPool;
  readonly #attempts: number;
  readonly #inFlight = new Set<Promise<unknown>>();
  #closed = false;

  constructor(pool: SqlPool, poolSize: number) {
    this.#pool = pool;
    this.#attempts = poolSize + 1;
  }

  /** A statement that only reads (or whose repeat changes nothing), on whichever connection is free. */
  read<R>(query: SqlQuery): Promise<SqlResult<R>> {
    return this.#track(async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.#pool.query<R>(query);
        } catch (err) {
          if (!(attempt < this.#attempts && isLostConnection(err))) throw storeError(err);
        }
      }
    });
  }

  /** `read`, for its rows */
  async rows<R>(query: SqlQuery): Promise<R[]> {
    return (await this.read<R>(query)).rows;
  }

  /** A single write, in a transaction of its own: BEGIN, it and COMMIT in one round trip (see the class comment). */
  write<R>(query: SqlQuery): Promise<SqlResult<R>> {
    return this.transaction((tx) => tx.finish<R>(query));
  }

  /**
   * `work` in one transaction (READ COMMITTED) on one connection: committed
   * when it resolves, rolled back when it throws (its error is rethrown, as
   * an AppiaError). `work` must only use the transaction it is given, and do
   * nothing but statements: it may be run again. `readOnly`: it only reads,
   * so a lost connection may be retried even at COMMIT.
   */
  transaction<T>(work: (tx: Transaction) => Promise<T>, readOnly = false): Promise<T> {
    return this.#withConnection<T>(async (client) => {
      // BEGIN goes out with the work's first statement (node-postgres pipelines)
      const begin = client.query({ text: 'BEGIN' }).then(
        () => undefined,
        (err: unknown) => err,
      );
      const tx = new PipelinedTransaction(client);
      const working = work(tx);
      working.catch(() => undefined);
      const beginError = await begin;
      if (beginError !== undefined) return failed(beginError, 'begin');
      let value: T;
      try {
        value = await working;
      } catch (err) {
        if (tx.committing) return failed(err, readOnly ? 'work' : 'commit');
        return { ...failed(err, 'work'), discard: !(await rollback(client)) };
      }
      try {
        await (tx.committing ?? client.query({ text: 'COMMIT' }));
      } catch (err) {
        return failed(err, readOnly ? 'work' : 'commit');
      }
      return { ok: true, value };
    }, readOnly);
  }

  /** Lets everything in flight finish, then ends the pool. Later calls reject `unavailable`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#inFlight]);
    await this.#pool.end();
  }

  /** runs `attempt` on a held connection, again on another when it lost its connection where that is safe */
  #withConnection<T>(attempt: (client: PooledClient) => Promise<Attempt<T>>, readOnly: boolean): Promise<T> {
    return this.#track(async () => {
      for (let tries = 1; ; tries++) {
        let client: PooledClient;
        try {
          client = await this.#pool.connect();
        } catch (err) {
          throw storeError(err);
        }
        // A held connection that breaks emits 'error'; without a listener
        // that would be an uncaught exception. The statements reject anyway.
        let broken: unknown;
        const onError = (err: Error) => {
          broken ??= err;
        };
        client.on('error', onError);
        let outcome: Attempt<T>;
        try {
          outcome = await attempt(client);
        } finally {
          client.off('error', onError);
        }
        const lost = !outcome.ok && isLostConnection(outcome.error);
        // a connection in doubt is closed rather than handed to the next caller
        client.release(broken !== undefined || lost || (!outcome.ok && outcome.discard === true));
        if (outcome.ok) return outcome.value;
        const safe = readOnly || outcome.stage !== 'commit';
        if (!(lost && safe && tries < this.#attempts)) throw storeError(outcome.error);
      }
    });
  }

  #track<T>(operation: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new AppiaError('unavailable', 'the store is closed'));
    const running = operation();
    this.#inFlight.add(running);
    const forget = () => this.#inFlight.delete(running);
    running.then(forget, forget);
    return running;
  }
}

/** A transaction's statements, as `work` sees them. */
export interface Transaction extends SqlClient {
  /**
   * The transaction's last statement, sent together with COMMIT (one round
   * trip less). If it fails, the COMMIT rolls back instead; nothing may be
   * sent after it.
   */
  finish<R>(query: SqlQuery): Promise<SqlResult<R>>;
}

class PipelinedTransaction implements Transaction {
  readonly #client: SqlClient;
  /** the COMMIT sent by `finish` */
  committing: Promise<unknown> | undefined;

  constructor(client: SqlClient) {
    this.#client = client;
  }

  query<R>(query: SqlQuery): Promise<SqlResult<R>> {
    if (this.committing) return Promise.reject(new Error('a statement after the transaction finished'));
    return this.#client.query<R>(query);
  }

  finish<R>(query: SqlQuery): Promise<SqlResult<R>> {
    const last = this.query<R>(query);
    this.committing = this.#client.query({ text: 'COMMIT' });
    this.committing.catch(() => undefined);
    return last;
  }
}

/** where an attempt failed: at BEGIN (nothing ran), in the work (rolled back), or at COMMIT (it may have committed) */
type Stage = 'begin' | 'work' | 'commit';

interface Failure {
  readonly ok: false;
  readonly error: unknown;
  readonly stage: Stage;
  /** the connection is in doubt: close it */
  readonly discard?: boolean;
}

type Attempt<T> = { readonly ok: true; readonly value: T } | Failure;

function failed(error: unknown, stage: Stage): Failure {
  return { ok: false, error, stage };
}

/** false when the connection is gone (and the transaction with it) */
async function rollback(client: SqlClient): Promise<boolean> {
  try {
    await client.query({ text: 'ROLLBACK' });
    return true;
  } catch {
    return false;
  }
}
