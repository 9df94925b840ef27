import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type PostgresStoreOptions, type PostgresStore, openPostgresStore } from '../../src/store/postgres/store.js';
import { type FoundService, service } from '../support/services.js';

/**
 * What the PostgreSQL suites share: the server found by test/support/services
 * (a suite is skipped with the printed reason when it is unreachable), a
 * fresh schema per use so that runs on one database never see each other
 * (other runs use the same database at the same time), and an admin
 * connection for looking at the server from outside the store.
 */
export interface PostgresFixture {
  readonly url: string;
  /** false, or why the suite is skipped */
  readonly skip: false | string;
  /** a new schema name, dropped by `cleanup` */
  schema(): string;
  /** a unique application_name, to find one store's connections in pg_stat_activity */
  applicationName(label: string): string;
  /** the schema `open` uses unless told another (made on first use) */
  readonly sharedSchema: string;
  /** a store on the shared schema, 4 pooled connections, unless the options say otherwise */
  open(options?: Partial<PostgresStoreOptions>): Promise<PostgresStore>;
  /** a connection of the test's own (not the store's) whose search_path is `schema`; the caller ends it */
  client(schema: string): Promise<pg.Client>;
  /** a statement on the admin connection (not the store's) */
  sql<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<R[]>;
  /** drops every schema made here and closes the admin pool */
  cleanup(): Promise<void>;
}

export async function postgresFixture(label: string): Promise<PostgresFixture> {
  const found: FoundService = await service('postgres');
  const run = randomBytes(4).toString('hex');
  const schemas: string[] = [];
  let admin: pg.Pool | undefined;
  const adminPool = () => (admin ??= new pg.Pool({ connectionString: found.url, max: 2, application_name: `appia_test_admin_${run}` }));
  let defaultSchema: string | undefined;
  let names = 0;

  const fixture: PostgresFixture = {
    url: found.url,
    skip: found.skip,
    schema() {
      const name = `appia_test_${label}_${run}_${++names}`;
      schemas.push(name);
      return name;
    },
    applicationName(what: string) {
      return `appia_test_${label}_${run}_${what}_${++names}`;
    },
    get sharedSchema() {
      return (defaultSchema ??= fixture.schema());
    },
    open(options = {}) {
      return openPostgresStore({ url: found.url, schema: fixture.sharedSchema, poolSize: 4, ...options });
    },
    async client(schema: string) {
      const client = new pg.Client({
        connectionString: found.url,
        application_name: `appia_test_admin_${run}`,
        options: `-c search_path=${schema}`,
      });
      await client.connect();
      return client;
    },
    async sql<R>(text: string, values: unknown[] = []) {
      return (await adminPool().query(text, values)).rows as R[];
    },
    async cleanup() {
      if (found.skip) return;
      try {
        for (const schema of schemas) await adminPool().query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await admin?.end();
      }
    },
  };
  return fixture;
}

/** a test that waits for a server-side state fails, rather than hangs, if that state never comes */
export const GUARD = { timeout: 60_000 };

/**
 * Resolves once `check` holds: for server-side states the test cannot be
 * told about (a backend waiting on a lock), polled every few milliseconds.
 */
export async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** how many of this application's backends wait on a lock (`event`: e.g. 'advisory', 'transactionid') */
export async function waitingBackends(fixture: PostgresFixture, applicationName: string, event?: string): Promise<number> {
  const [row] = await fixture.sql<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE application_name = $1 AND wait_event_type = 'Lock' AND ($2::text IS NULL OR wait_event = $2)`,
    [applicationName, event ?? null],
  );
  return row!.n;
}
