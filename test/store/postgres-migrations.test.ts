import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MIGRATIONS, MIGRATION_LOCK, runMigrations } from '../../src/store/postgres/migrations.js';
import { SQL } from '../../src/store/postgres/statements.js';
import { GUARD, postgresFixture, until, waitingBackends } from './postgres-fixture.js';

const pg = await postgresFixture('migrations');

describe('PostgreSQL schema and migrations', { skip: pg.skip }, () => {
  after(() => pg.cleanup());

  const versions = (schema: string) =>
    pg.sql<{ version: number; name: string }>(`SELECT version, name FROM ${schema}.schema_migrations ORDER BY version`);

  test('a new schema is created and migrated to the newest version, and opening it again applies nothing', async () => {
    const schema = pg.schema();
    await (await pg.open({ schema })).close();
    await (await pg.open({ schema })).close();
    assert.deepEqual(await versions(schema), MIGRATIONS.map(({ version, name }) => ({ version, name })));
    const client = await pg.client(schema);
    try {
      assert.deepEqual(await runMigrations(client, schema), []);
    } finally {
      await client.end();
    }
  });

  test('five nodes starting at once on a new schema all open it, and each migration is applied once', async () => {
    const schema = pg.schema();
    const opened = await Promise.allSettled(Array.from({ length: 5 }, () => pg.open({ schema, poolSize: 1 })));
    await Promise.all(opened.map((o) => (o.status === 'fulfilled' ? o.value.close() : undefined)));
    assert.deepEqual(opened.map((o) => o.status), Array(5).fill('fulfilled'));
    assert.deepEqual((await versions(schema)).map((r) => r.version), MIGRATIONS.map((m) => m.version));
  });

  test('while another node holds the migration lock, a starting node waits and touches nothing, then finds the schema ready', GUARD, async () => {
    const schema = pg.schema();
    const app = pg.applicationName('waiting-node');
    const other = await pg.client('public');
    await other.query('BEGIN');
    await other.query(MIGRATION_LOCK, [schema]);
    const opening = pg.open({ schema, poolSize: 1, applicationName: app });
    try {
      await until(async () => (await waitingBackends(pg, app, 'advisory')) === 1);
      assert.deepEqual(await pg.sql('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]), []);
      await other.query('COMMIT');
      await (await opening).ping();
      assert.equal((await versions(schema)).length, MIGRATIONS.length);
    } finally {
      // ending the other session releases its lock, if the test failed while holding it
      await other.end();
      await (await opening).close();
    }
  });

  test('a schema migrated by a newer Appia is refused, in one line that says so', async () => {
    const schema = pg.schema();
    await (await pg.open({ schema })).close();
    await pg.sql(`INSERT INTO ${schema}.schema_migrations (version, name, applied_at) VALUES (999, 'from the future', 0)`);
    await assert.rejects(pg.open({ schema }), (err: Error) => {
      assert.match(err.message, /has version 999, newer than this Appia knows \(\d+\); upgrade Appia/);
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
  });

  test('migrations are listed in increasing order of version, each version once', () => {
    const versions = MIGRATIONS.map((m) => m.version);
    assert.deepEqual(versions, [...new Set(versions)].sort((a, b) => a - b));
    assert.equal(versions[0], 1);
  });

  test('a schema that has a later version but lacks an earlier one gets the earlier one, once', async () => {
    const schema = pg.schema();
    const client = await pg.client(schema);
    try {
      const later = MIGRATIONS.filter((m) => m.version !== 2);
      await runMigrations(client, schema, Date.now, later);
      const arriving = { version: 2, name: 'a migration numbered before one applied already', sql: 'CREATE TABLE arrived_later (id BIGINT PRIMARY KEY)' };
      const all = [...later.filter((m) => m.version < 2), arriving, ...later.filter((m) => m.version > 2)];
      assert.deepEqual(await runMigrations(client, schema, Date.now, all), [2]);
      assert.deepEqual(await runMigrations(client, schema, Date.now, all), []);
      assert.deepEqual((await versions(schema)).map((r) => r.version), all.map((m) => m.version));
    } finally {
      await client.end();
    }
  });

  test("the scheduler's and the feed's queries can use their partial and covering indexes", async () => {
    await (await pg.open()).close();
    const client = await pg.client(pg.sharedSchema);
    try {
      // with sequential scans priced out, a plan names an index exactly when the index can answer the query
      await client.query('SET enable_seqscan = off');
      const plan = async (sql: string, values: unknown[]) =>
        (await client.query(`EXPLAIN ${sql}`, values)).rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n');
      assert.match(await plan(SQL.listOpenCommands, ['d']), /commands_open_by_device/);
      assert.match(await plan(SQL.countOpen, ['d']), /commands_open_by_device/);
      assert.match(await plan(SQL.listDue, [1_000, 10]), /commands_open_by_wake/);
      assert.match(await plan(SQL.listUndelivered, [1_000, 10]), /devices_present/);
      assert.match(await plan(SQL.listUserHistorySince, ['u', 0, 10]), /command_history_by_user/);
      assert.match(await plan(SQL.listDevices, ['u', 10, 0]), /devices_by_user/);
    } finally {
      await client.end();
    }
  });
});
