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
  open(options?: Partial<PostgresStoreOptions>): Promise<PostgresStore>;
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
    open(options = {}) {
      defaultSchema ??= fixture.schema();
      return openPostgresStore({ url: found.url, schema: defaultSchema, poolSize: 4, ...options });
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
