import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { FINAL_STATUSES } from '../../src/domain/policy.js';
import type { Status } from '../../src/domain/status.js';
import { OPEN_COMMAND } from '../../src/store/sql-shared.js';
import { BATCH_SQL } from '../../src/store/batch-sql.js';
import { MIGRATIONS, runMigrations } from '../../src/store/sqlite/migrations.js';
import { BACKSTOP_FRAMES, DEFAULT_AUTOCHECKPOINT_FRAMES } from '../../src/store/sqlite/checkpointer.js';
import { type CommandRow, SQL, commandFromRow, transitionSql } from '../../src/store/sqlite/statements.js';
import { SqliteStore, openSqliteStore } from '../../src/store/sqlite/store.js';
import { World, appiaError, storeContract } from '../contract/store.contract.js';

const dir = mkdtempSync(join(tmpdir(), 'appia-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const freshPath = () => join(dir, `store-${++files}.db`);

storeContract('sqlite, file, synchronous FULL', async () => openSqliteStore({ path: freshPath() }));
storeContract('sqlite, file, writer thread', async () => openSqliteStore({ path: freshPath(), writer: 'thread' }));
storeContract('sqlite, :memory:', async () => openSqliteStore({ path: ':memory:' }));

describe('SQLite store', () => {
  test('a new database is migrated to the newest version, and opening it again applies nothing', async () => {
    const path = freshPath();
    await openSqliteStore({ path }).close();
    await openSqliteStore({ path }).close();
    const db = new Database(path);
    try {
      const rows = db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all();
      assert.deepEqual(rows, MIGRATIONS.map(({ version, name }) => ({ version, name })));
      assert.deepEqual(runMigrations(db), []);
    } finally {
      db.close();
    }
  });

  test('a database of schema version 2 is upgraded in place: its open-command indexes are rebuilt over its commands', async () => {
    const path = freshPath();
    const old = new Database(path);
    old.pragma('journal_mode = WAL');
    old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT');
    for (const m of MIGRATIONS.filter((m) => m.version <= 2)) {
      old.exec(m.sql);
      old.prepare('INSERT INTO schema_migrations VALUES (?, ?, 0)').run(m.version, m.name);
    }
    old.prepare("INSERT INTO users (id) VALUES ('u')").run();
    old.prepare(SQL.insertDevice).run('d', 'u', 'phone', null, null, null, null, 'Online', 'hash', 1);
    const insert = old.prepare(SQL.insertCommand);
    for (const id of ['C1', 'C2', 'C3']) insert.run(id, 'u', 'd', 'LaunchUri', null, null, null, null, null, 'requesting', 10, 10, 1_000);
    old.prepare("UPDATE commands SET status = 'sentToTarget', due_at = 50 WHERE id = 'C1'").run();
    old.prepare("UPDATE commands SET status = 'completed' WHERE id = 'C2'").run();
    const indexSql = (db: Database.Database) =>
      db.prepare("SELECT sql FROM sqlite_master WHERE name = 'commands_open_by_wake'").pluck().get() as string;
    assert.match(indexSql(old), /NOT IN/);
    old.close();

    const store = openSqliteStore({ path });
    try {
      assert.deepEqual((await store.listOpenCommands('d')).map((c) => c.id), ['C1', 'C3']);
      assert.deepEqual((await store.listDue(100, 10)).map((c) => c.id), ['C1']);
      assert.deepEqual((await store.listDue(1_000, 10)).map((c) => c.id), ['C1', 'C3']);
      const next = { id: 'C4', userId: 'u', deviceId: 'd', type: 'LaunchUri' as const, payloadJson: null, appServiceName: null,
        packageFamilyName: null, permissionTicket: null, postBackUri: null, createdAt: 20, expiresAt: 2_000 };
      await assert.rejects(store.createCommand(next, { maxOpen: 2 }), appiaError('tooManyOpen'));
      assert.equal((await store.createCommand(next, { maxOpen: 3 })).created, true);
    } finally {
      await store.close();
    }
    const db = new Database(path, { readonly: true });
    try {
      assert.equal(indexSql(db).includes(OPEN_COMMAND), true);
      assert.deepEqual(db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all(), MIGRATIONS.map((m) => m.version));
    } finally {
      db.close();
    }
  });

  test('migrations are listed in increasing order of version, each version once', () => {
    const versions = MIGRATIONS.map((m) => m.version);
    assert.deepEqual(versions, [...new Set(versions)].sort((a, b) => a - b));
    assert.equal(versions[0], 1);
  });

  test('a database that has a later version but lacks an earlier one gets the earlier one, once', () => {
    const db = new Database(':memory:');
    try {
      const later = MIGRATIONS.filter((m) => m.version !== 5);
      runMigrations(db, Date.now, later);
      const arriving = { version: 5, name: 'a migration numbered before one applied already', sql: 'CREATE TABLE arrived_later (id INTEGER PRIMARY KEY) STRICT' };
      const all = [...later.filter((m) => m.version < 5), arriving, ...later.filter((m) => m.version > 5)];
      assert.deepEqual(runMigrations(db, Date.now, all), [5]);
      assert.deepEqual(runMigrations(db, Date.now, all), []);
      assert.deepEqual(db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all(), all.map((m) => m.version));
    } finally {
      db.close();
    }
  });

  test('a database migrated by a newer Appia is refused rather than misread', async () => {
    const path = freshPath();
    await openSqliteStore({ path }).close();
    const db = new Database(path);
    db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from the future', 0)").run();
    db.close();
    assert.throws(() => openSqliteStore({ path }), /schema version 999, newer than this Appia knows/);
  });

  test('the connection runs in WAL mode with foreign keys on and a busy timeout', async () => {
    const path = freshPath();
    const store = openSqliteStore({ path });
    try {
      assert.deepEqual(store.pragmas(), {
        journalMode: 'wal',
        foreignKeys: true,
        synchronous: 'FULL',
        busyTimeoutMs: 5000,
        tempStore: 'MEMORY',
        walAutocheckpoint: BACKSTOP_FRAMES,
      });
      await store.ensurePostbackSecrets('someone', 'secret');
      assert.ok(existsSync(`${path}-wal`), 'writes go to the write-ahead log');
    } finally {
      await store.close();
    }
  });

  test('synchronous is FULL unless NORMAL is asked for', async () => {
    for (const synchronous of ['FULL', 'NORMAL'] as const) {
      const store = openSqliteStore({ path: freshPath(), synchronous });
      assert.equal(store.pragmas().synchronous, synchronous);
      await store.close();
    }
  });

  test('the folder of the database file is created when missing', async () => {
    const path = join(dir, 'nested', 'appia-data', 'appia.db');
    await openSqliteStore({ path }).close();
    assert.ok(existsSync(path));
  });

  test('everything stored survives closing and reopening, and event ids keep rising', async () => {
    const path = freshPath();
    const first = new World(openSqliteStore({ path }));
    const user = first.user();
    const device = await first.device(user);
    const created = await first.command(device, { payloadJson: '{"uri": "ms-settings:"}' }, { idempotencyKey: 'k1' });
    const moved = await first.move(created.command, 'sentToTarget', { attempts: 1, dueAt: 123 });
    await first.store.connectDevice(device.id, 'c', 77);
    await first.store.ensurePostbackSecrets(user, 'kept-secret');
    await first.store.close();

    const second = new World(openSqliteStore({ path }));
    try {
      const seen = { ...device, status: 'Online', lastSeenAt: 77 };
      assert.deepEqual(await second.store.getDevice(user, device.id), seen);
      assert.deepEqual(await second.store.findDeviceByTokenHash(first.tokenHashOf(device)), seen);
      assert.deepEqual(await second.store.getCommandById(created.command.id), moved.command);
      assert.deepEqual(await second.store.listHistory(created.command.id), [created.history, moved.history]);
      assert.equal((await second.store.ensurePostbackSecrets(user, 'new')).current, 'kept-secret');
      const replay = await second.store.createCommand(second.newCommand(device), { idempotencyKey: 'k1' });
      assert.equal(replay.command.id, created.command.id);
      const next = await second.command(device);
      assert.ok(next.history!.id > moved.history.id);
    } finally {
      await second.store.close();
    }
  });

  test('an idempotency key lives by the clock the store was given', async () => {
    let now = 1_000;
    const world = new World(openSqliteStore({ path: ':memory:', now: () => now }));
    try {
      const device = await world.device(world.user());
      const first = await world.command(device, {}, { idempotencyKey: 'k', idempotencyExpiresAt: 2_000 });
      now = 1_999;
      assert.equal((await world.command(device, {}, { idempotencyKey: 'k' })).command.id, first.command.id);
      now = 2_000;
      assert.equal((await world.command(device, {}, { idempotencyKey: 'k' })).created, true);
    } finally {
      await world.store.close();
    }
  });

  test('while another connection holds the write lock, a batch fails as unavailable, and writes work again after', async () => {
    const path = freshPath();
    const world = new World(openSqliteStore({ path, busyTimeoutMs: 20 }));
    const intruder = new Database(path);
    try {
      const device = await world.device(world.user());
      intruder.exec('BEGIN IMMEDIATE');
      const outcomes = await Promise.allSettled([world.command(device), world.store.connectDevice(device.id, 'c', 1)]);
      assert.ok(outcomes.every((o) => o.status === 'rejected' && appiaError('unavailable')(o.reason)));
      assert.deepEqual(await world.store.listOpenCommands(device.id), []);
      intruder.exec('ROLLBACK');
      assert.equal((await world.command(device)).created, true);
    } finally {
      intruder.close();
      await world.store.close();
    }
  });

  test('writes issued together run in the order they were made, each seeing the ones before it', async () => {
    const world = new World(openSqliteStore({ path: ':memory:' }));
    try {
      const device = await world.device(world.user());
      const fresh = world.newCommand(device);
      const at = world.tick();
      const step = (from: Status, to: Status) => world.transition({ commandId: fresh.id, from, to, at });
      // one tick, so one batch: the create is not committed yet when the steps run
      const [created, sent, received, completed, late] = await Promise.all([
        world.store.createCommand(fresh),
        step('requesting', 'sentToTarget'),
        step('sentToTarget', 'executing'),
        step('executing', 'completed'),
        step('requesting', 'sentToTarget'),
      ]);
      assert.equal(created.created, true);
      assert.deepEqual([sent?.history.sequence, received?.history.sequence, completed?.history.sequence], [2, 3, 4]);
      assert.equal(late, undefined);
      assert.equal((await world.store.getCommandById(fresh.id))?.status, 'completed');
    } finally {
      await world.store.close();
    }
  });

  test("reads of one turn share a snapshot, and the next turn sees another connection's commit", async () => {
    const path = freshPath();
    const world = new World(openSqliteStore({ path }));
    const other = new Database(path);
    try {
      const user = world.user();
      const device = await world.device(user);
      const first = world.store.getDevice(user, device.id);
      other.prepare("UPDATE devices SET status = 'Online' WHERE id = ?").run(device.id);
      const sameTurn = world.store.getDevice(user, device.id);
      assert.equal((await first)?.status, 'Offline');
      assert.equal((await sameTurn)?.status, 'Offline', 'the read transaction of the turn began before the commit');
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal((await world.store.getDevice(user, device.id))?.status, 'Online');
    } finally {
      other.close();
      await world.store.close();
    }
  });

  test('many writes queued at once are split into batches of maxBatch, and all are stored', async () => {
    const world = new World(openSqliteStore({ path: freshPath(), maxBatch: 16, synchronous: 'NORMAL' }));
    try {
      const user = world.user();
      const device = await world.device(user);
      const results = await Promise.all(Array.from({ length: 100 }, () => world.store.createCommand(world.newCommand(device))));
      assert.equal(results.filter((r) => r.created).length, 100);
      assert.equal((await world.store.listOpenCommands(device.id)).length, 100);
    } finally {
      await world.store.close();
    }
  });

  test('a write that fails after changing rows is undone alone: its batch runs again with savepoints', async () => {
    const path = freshPath();
    const world = new World(openSqliteStore({ path }));
    const saboteur = new Database(path);
    try {
      const device = await world.device(world.user());
      const { command: doomed } = await world.command(device);
      const { command: fine } = await world.command(device);
      // the history entry of one change cannot be written, after its UPDATE has run
      saboteur.exec(`CREATE TRIGGER refuse_history BEFORE INSERT ON command_history WHEN NEW.detail = 'refused'
        BEGIN SELECT RAISE(ABORT, 'history refused'); END`);
      const at = world.tick();
      const fresh = world.newCommand(device);
      // one tick, so one batch
      const outcomes = await Promise.allSettled([
        world.transition({ commandId: fine.id, from: 'requesting', to: 'sentToTarget', at, attempts: 1 }),
        world.transition({ commandId: doomed.id, from: 'requesting', to: 'sentToTarget', at, attempts: 1, detail: 'refused' }),
        world.store.createCommand(fresh),
        world.transition({ commandId: fine.id, from: 'sentToTarget', to: 'executing', at }),
      ]);
      assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      assert.ok(appiaError('internal')((outcomes[1] as PromiseRejectedResult).reason));
      assert.deepEqual(await world.store.getCommandById(doomed.id), doomed);
      assert.equal((await world.store.listHistory(doomed.id)).length, 1);
      assert.equal((await world.store.getCommandById(fine.id))?.status, 'executing');
      assert.deepEqual((await world.store.listHistory(fine.id)).map((h) => h.sequence), [1, 2, 3]);
      assert.equal((await world.store.getCommandById(fresh.id))?.status, 'requesting');
      saboteur.exec('DROP TRIGGER refuse_history');
      assert.ok(await world.transition({ commandId: doomed.id, from: 'requesting', to: 'sentToTarget', at }));
    } finally {
      saboteur.close();
      await world.store.close();
    }
  });

  describe('WAL checkpoints run on a worker thread', () => {
    test('commits reach the database file without the committing thread checkpointing', async () => {
      const path = freshPath();
      const store = openSqliteStore({ path });
      const world = new World(store);
      try {
        assert.equal(store.checkpointerRunning, true);
        // far below the backstop: the main connection does not checkpoint these itself
        const device = await world.device(world.user());
        const before = statSync(path).size;
        for (let i = 0; i < 100; i++) await world.command(device);
        // each wait ends at a checkpoint the worker completed (the bound only stops a broken worker from hanging the test);
        // it is taken before one more commit, so a checkpoint that ended just before the wait cannot leave it waiting for none
        for (let i = 0; i < 20 && statSync(path).size <= before; i++) {
          const checkpointed = store.nextCheckpoint(60_000);
          await world.command(device);
          assert.ok(await checkpointed, 'the worker checkpoints');
        }
        assert.ok(statSync(path).size > before, 'the worker copied the WAL into the database file');
      } finally {
        await world.store.close();
      }
    });

    test('closing stops the worker after a last checkpoint, and the WAL is gone', async () => {
      const path = freshPath();
      const store = openSqliteStore({ path });
      const world = new World(store);
      const device = await world.device(world.user());
      const { command } = await world.command(device);
      await store.close();
      assert.equal(store.checkpointerRunning, false);
      assert.equal(existsSync(`${path}-wal`), false);
      const db = new Database(path, { readonly: true });
      try {
        assert.equal(db.prepare('SELECT status FROM commands WHERE id = ?').pluck().get(command.id), 'requesting');
      } finally {
        db.close();
      }
    });

    test('if the worker fails, SQLite checkpoints inside COMMIT again, every 1000 pages', async () => {
      const path = freshPath();
      const db = new Database(path);
      db.pragma('journal_mode = WAL');
      db.pragma(`wal_autocheckpoint = ${BACKSTOP_FRAMES}`);
      runMigrations(db);
      const workerUrl = new URL('data:text/javascript,throw new Error("checkpointer down")');
      const store = new SqliteStore(db, { backgroundCheckpoint: { path, synchronous: 'FULL', workerUrl } });
      try {
        const deadline = Date.now() + 5000;
        while (store.checkpointerRunning && Date.now() < deadline) await sleep(10);
        assert.equal(store.checkpointerRunning, false);
        assert.equal(store.pragmas().walAutocheckpoint, DEFAULT_AUTOCHECKPOINT_FRAMES);
        assert.equal((await store.ensurePostbackSecrets('someone', 'secret')).current, 'secret');
      } finally {
        await store.close();
      }
    });

    test("'inline' leaves checkpoints to SQLite, and ':memory:' has none", async () => {
      const inline = openSqliteStore({ path: freshPath(), checkpoint: 'inline' });
      assert.equal(inline.checkpointerRunning, false);
      assert.equal(inline.pragmas().walAutocheckpoint, DEFAULT_AUTOCHECKPOINT_FRAMES);
      await inline.close();
      const memory = openSqliteStore({ path: ':memory:' });
      assert.equal(memory.checkpointerRunning, false);
      await memory.close();
    });
  });

  test('commands are read as arrays, and commandFromRow names each value as the select list aliases it', async () => {
    const path = freshPath();
    const world = new World(openSqliteStore({ path }));
    const device = await world.device(world.user());
    const { command } = await world.command(device, {
      type: 'AppService',
      appServiceName: 'svc',
      packageFamilyName: 'pfn',
      permissionTicket: 'ticket',
      postBackUri: 'https://example.com/pb',
    });
    const moved = await world.move(command, 'custom', {
      error: 'e',
      responsePayloadJson: '{"r":1}',
      customStatus: '50%',
      attempts: 3,
      dueAt: 42,
    });
    await world.store.close();
    const db = new Database(path, { readonly: true });
    try {
      const named = db.prepare(SQL.getCommandById).get(command.id) as Record<string, unknown>;
      const built = commandFromRow(db.prepare<[string], CommandRow>(SQL.getCommandById).raw().get(command.id)!);
      assert.deepEqual(Object.keys(built), Object.keys(named));
      assert.deepEqual(built, named);
      assert.deepEqual(built, moved.command);
      // a single create has no batch (the batch stories read batchId back): every other field is set
      assert.equal(built.batchId, null);
      assert.ok(Object.entries(built).every(([k, v]) => k === 'batchId' || v !== null), 'every field told apart');
    } finally {
      db.close();
    }
  });

  test('OPEN_COMMAND excludes exactly the final statuses of the lifecycle', () => {
    const excluded = [...OPEN_COMMAND.matchAll(/'([a-zA-Z]+)'/g)].map((m) => m[1]);
    assert.deepEqual([...excluded].sort(), [...FINAL_STATUSES].sort());
  });

  describe('every query is served by an index, in index order: no table scan, no sort', () => {
    const path = freshPath();
    void openSqliteStore({ path }).close();
    const db = new Database(path, { readonly: true });
    after(() => db.close());
    const plan = (sql: string) => {
      const statement = db.prepare(`EXPLAIN QUERY PLAN ${sql}`);
      const params = statement.source.match(/\?/g)?.length ?? 0;
      return (statement.all(...Array.from({ length: params }, () => 'x')) as { detail: string }[]).map((r) => r.detail).join(' | ');
    };
    const expectations: Record<string, RegExp> = {
      countOpen: /USING COVERING INDEX commands_open_by_device/,
      listOpenCommands: /USING INDEX commands_open_by_device/,
      listDue: /USING INDEX commands_open_by_wake \(wake_at<\?\)/,
      listUndelivered: /SEARCH commands USING INDEX commands_open_by_device \(device_id=\?\).*SCAN devices USING (COVERING )?INDEX devices_present/,
      listCommands: /USING INDEX commands_by_device \(user_id=\? AND device_id=\? AND id<\?\)/,
      listCommandsByStatus: /USING INDEX commands_by_device \(user_id=\? AND device_id=\? AND id<\?\)/,
      getCommand: /USING INDEX sqlite_autoindex_commands_1 \(id=\?\)/,
      commandForChange: /USING INDEX sqlite_autoindex_commands_1 \(id=\?\)/,
      'transition, status only': /SEARCH commands USING INTEGER PRIMARY KEY \(rowid=\?\)/,
      'transition, every field': /SEARCH commands USING INTEGER PRIMARY KEY \(rowid=\?\)/,
      listHistory: /USING INDEX command_history_by_command \(command_id=\?\)/,
      listUserHistorySince: /USING INDEX command_history_by_user \(user_id=\? AND id>\?\)/,
      listDevices: /USING INDEX devices_by_user \(user_id=\?\)/,
      listDevicesByStatus: /USING INDEX devices_by_user \(user_id=\?\)/,
      countDevices: /USING (COVERING )?INDEX devices_by_user \(user_id=\?\)/,
      findDeviceByTokenHash: /USING INDEX sqlite_autoindex_devices_2 \(token_hash=\?\)/,
      findIdempotent: /SEARCH k USING PRIMARY KEY \(user_id=\? AND key=\?\)/,
      // DESIGN 9 (batchCounts groups one batch's rows by status, a sort of at most APPIA_MAX_BATCH_DEVICES rows)
      getBatch: /USING INDEX sqlite_autoindex_command_batches_1 \(id=\?\)/,
      listBatches: /USING (COVERING )?INDEX command_batches_by_user \(user_id=\? AND id<\?\)/,
      listBatchCommands: /USING INDEX commands_by_batch \(batch_id=\? AND id>\?\)/,
      listBatchCommandsByStatus: /USING INDEX commands_by_batch \(batch_id=\? AND id>\?\)/,
      listOpenBatchCommands: /USING INDEX commands_by_batch \(batch_id=\? AND id>\?\)/,
    };
    const statements: Record<string, string> = {
      ...SQL,
      ...BATCH_SQL,
      'transition, status only': transitionSql(0),
      'transition, every field': transitionSql(0b11111),
    };
    for (const [name, expected] of Object.entries(expectations)) {
      test(name, () => {
        const detail = plan(statements[name]!);
        assert.match(detail, expected);
        assert.doesNotMatch(detail, /\bSCAN (commands|command_history|devices|idempotency_keys|c|k)\b(?! USING)/);
        assert.doesNotMatch(detail, /TEMP B-TREE/, 'results come in index order, unsorted');
      });
    }
  });
});
