import pg from 'pg';

/**
 * The part of node-postgres the adapter uses (STYLE: an adapter depends on a
 * small client interface it declares itself, not on the driver's whole type
 * surface). `pg.Pool` and its clients satisfy it; `openPool` makes one.
 */
export interface SqlQuery {
  readonly text: string;
  readonly values?: readonly unknown[];
  /** a name makes the connection prepare the statement once and reuse it */
  readonly name?: string;
}

export interface SqlResult<R> {
  readonly rows: R[];
  readonly rowCount: number | null;
}

export interface SqlClient {
  query<R>(query: SqlQuery): Promise<SqlResult<R>>;
}

/** a connection taken from the pool, held for one transaction */
export interface PooledClient extends SqlClient {
  /** back to the pool; with an error (or true) the connection is closed instead */
  release(destroy?: Error | boolean): void;
  on(event: 'error', listener: (err: Error) => void): unknown;
  off(event: 'error', listener: (err: Error) => void): unknown;
}

export interface SqlPool {
  query<R>(query: SqlQuery): Promise<SqlResult<R>>;
  connect(): Promise<PooledClient>;
  end(): Promise<void>;
}

export interface PoolSettings {
  readonly url: string;
  /** every connection's search_path (an unquoted lower-case identifier); the server's default when absent */
  readonly schema?: string;
  readonly poolSize: number;
  /** shown in pg_stat_activity, so an operator (or a test) can tell this store's connections apart */
  readonly applicationName: string;
  /** how long to wait for a connection (a new one, or a pooled one to come free) */
  readonly connectTimeoutMs: number;
  /** an idle connection failed (PostgreSQL went away or ended it); the pool has already dropped it */
  readonly onIdleError: (err: Error) => void;
}

/** the schema names accepted: they need no quoting in SQL nor in the connection's startup options */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * BIGINT (times in epoch ms, history ids, counts) as a JS number rather than
 * node-postgres' default string. Every value Appia keeps in one is far below
 * 2^53. Set per pool, not through pg.types, which is process-wide.
 */
const INT8 = 20;
const parseInt8 = (text: string): number => Number(text);
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8 && format !== 'binary' ? parseInt8 : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/**
 * A node-postgres Pool. Its 'error' event (an idle connection that broke) is
 * handled, so PostgreSQL going away never crashes the process; the pool opens
 * new connections when asked again, so the store recovers on its own.
 */
export function openPool(settings: PoolSettings): SqlPool {
  if (settings.schema !== undefined && !SCHEMA_NAME.test(settings.schema)) {
    throw new Error(`the PostgreSQL schema name ${JSON.stringify(settings.schema)} is not a lower-case identifier`);
  }
  const pool = new pg.Pool({
    connectionString: settings.url,
    max: settings.poolSize,
    application_name: settings.applicationName,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    // a half-open connection (machine gone, cable pulled) is noticed by TCP instead of never
    keepAlive: true,
    // a transaction's BEGIN travels with its first statement, a single
    // write's BEGIN, statement and COMMIT together: one round trip
    pipeline: true,
    types: TYPES,
    ...(settings.schema === undefined ? {} : { options: `-c search_path=${settings.schema}` }),
  });
  pool.on('error', (err) => settings.onIdleError(err));
  return pool;
}
