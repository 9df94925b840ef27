import { AppiaError } from '../../domain/errors.js';
import type { PooledClient, SqlClient, SqlPool, SqlQuery, SqlResult } from './client.js';
import { isLostConnection, storeError } from './errors.js';

/**
 * Runs the store's statements on the pool: single statements, and
 * transactions on one held connection. Every failure comes out as an
 * AppiaError (errors.ts). It counts what is in flight, so `close` can let it
 * finish before the pool ends.
 *
 * A pooled connection may be dead when it is handed out (PostgreSQL
 * restarted, or ended the backend, before the pool noticed). Where running a
 * statement twice is harmless, the runner then tries again on another
 * connection, as often as the pool has connections that could all be dead:
 * reads, writes whose repeat changes nothing, and transactions whose BEGIN
 * failed (nothing of them reached the server). A failure to connect is not
 * retried: the server is away, and the caller hears `unavailable` at once.
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

  /**
   * One statement, on whichever connection the pool has free. `repeatable`:
   * running it twice leaves the same outcome as once (a read, or an
   * idempotent write), so it may be retried on a lost connection.
   */
  run<R>(query: SqlQuery, repeatable: boolean): Promise<SqlResult<R>> {
    return this.#track(async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.#pool.query<R>(query);
        } catch (err) {
          if (!(repeatable && attempt < this.#attempts && isLostConnection(err))) throw storeError(err);
        }
      }
    });
  }

  /** `run`, for statements that return rows */
  async rows<R>(query: SqlQuery, repeatable: boolean): Promise<R[]> {
    return (await this.run<R>(query, repeatable)).rows;
  }

  /**
   * `work` in one transaction (READ COMMITTED) on one connection: committed
   * when it resolves, rolled back when it throws (its error is rethrown, as
   * an AppiaError). `work` must only use the client it is given.
   * `repeatable`: it only reads, so a lost connection may be retried at any
   * point, not only at BEGIN.
   */
  transaction<T>(work: (client: SqlClient) => Promise<T>, repeatable = false): Promise<T> {
    return this.#track(async () => {
      for (let attempt = 1; ; attempt++) {
        let client: PooledClient;
        try {
          client = await this.#pool.connect();
        } catch (err) {
          throw storeError(err);
        }
        const outcome = await attemptTransaction(client, work);
        if (outcome.ok) return outcome.value;
        const safe = repeatable || outcome.beforeBegin;
        if (safe && attempt < this.#attempts && isLostConnection(outcome.error)) continue;
        throw storeError(outcome.error);
      }
    });
  }

  /** Lets everything in flight finish, then ends the pool. Later calls reject `unavailable`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#inFlight]);
    await this.#pool.end();
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

type Attempt<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: unknown; readonly beforeBegin: boolean };

async function attemptTransaction<T>(client: PooledClient, work: (client: SqlClient) => Promise<T>): Promise<Attempt<T>> {
  // A held connection that breaks emits 'error'; without a listener that
  // would be an uncaught exception. The failing statement rejects anyway.
  let broken: Error | undefined;
  const onError = (err: Error) => {
    broken = err;
  };
  client.on('error', onError);
  let begun = false;
  try {
    await client.query({ text: 'BEGIN' });
    begun = true;
    const value = await work(client);
    await client.query({ text: 'COMMIT' });
    return { ok: true, value };
  } catch (error) {
    if (!begun) {
      // not even BEGIN went through: the connection is no good
      broken ??= error as Error;
    } else if (broken === undefined) {
      try {
        await client.query({ text: 'ROLLBACK' });
      } catch (rollbackError) {
        broken = rollbackError as Error;
      }
    }
    return { ok: false, error, beforeBegin: !begun };
  } finally {
    client.off('error', onError);
    // a connection in doubt is closed rather than handed to the next caller
    client.release(broken ?? false);
  }
}
