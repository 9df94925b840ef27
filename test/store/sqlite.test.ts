import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { FINAL_STATUSES, type Status } from '../../src/domain/status.js';
import { OPEN_COMMAND } from '../../src/store/sql-shared.js';
import { MIGRATIONS, runMigrations } from '../../src/store/sqlite/migrations.js';
import { SQL } from '../../src/store/sqlite/statements.js';
import { openSqliteStore } from '../../src/store/sqlite/store.js';
import { World, appiaError, storeContract } from '../contract/store.contract.js';

const dir = mkdtempSync(join(tmpdir(), 'appia-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const freshPath = () => join(dir, `store-${++files}.db`);

storeContract('sqlite, file, synchronous FULL', async () => openSqliteStore({ path: freshPath() }));
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

  test('migrations are numbered 1, 2, 3... with no gaps or repeats', () => {
    assert.deepEqual(MIGRATIONS.map((m) => m.version), MIGRATIONS.map((_, i) => i + 1));
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
      assert.deepEqual(store.pragmas(), { journalMode: 'wal', foreignKeys: true, synchronous: 'FULL', busyTimeoutMs: 5000 });
      await store.ensurePostbackSecret('someone', 'secret');
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
    await first.store.setDevicePresence(device.id, 'Online', 77);
    await first.store.ensurePostbackSecret(user, 'kept-secret');
    await first.store.close();

    const second = new World(openSqliteStore({ path }));
    try {
      const seen = { ...device, status: 'Online', lastSeenAt: 77 };
      assert.deepEqual(await second.store.getDevice(user, device.id), seen);
      assert.deepEqual(await second.store.findDeviceByTokenHash(first.tokenHashOf(device)), seen);
      assert.deepEqual(await second.store.getCommandById(created.command.id), moved.command);
      assert.deepEqual(await second.store.listHistory(created.command.id), [created.history, moved.history]);
      assert.equal(await second.store.ensurePostbackSecret(user, 'new'), 'kept-secret');
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
      const outcomes = await Promise.allSettled([world.command(device), world.store.setDevicePresence(device.id, 'Online', 1)]);
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
      const step = (from: Status, to: Status) => world.store.transitionCommand({ commandId: fresh.id, from, to, at });
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
      listHistory: /USING INDEX command_history_by_command \(command_id=\?\)/,
      listUserHistorySince: /USING INDEX command_history_by_user \(user_id=\? AND id>\?\)/,
      listDevices: /USING INDEX devices_by_user \(user_id=\?\)/,
      findDeviceByTokenHash: /USING INDEX sqlite_autoindex_devices_2 \(token_hash=\?\)/,
      findIdempotent: /SEARCH k USING PRIMARY KEY \(user_id=\? AND key=\?\)/,
    };
    for (const [name, expected] of Object.entries(expectations)) {
      test(name, () => {
        const detail = plan(SQL[name as keyof typeof SQL]);
        assert.match(detail, expected);
        assert.doesNotMatch(detail, /\bSCAN (commands|command_history|devices|idempotency_keys|c|k)\b(?! USING)/);
        assert.doesNotMatch(detail, /TEMP B-TREE/, 'results come in index order, unsorted');
      });
    }
  });
});
