import type Database from 'better-sqlite3';
import { pairingsTable } from '../pairing-sql.js';
import { PRESENT_DEVICE, WAKE_AT } from '../sql-shared.js';

/**
 * The SQLite schema as an ordered list of migrations. A migration, once
 * released, is never edited: change the schema by appending a new one.
 * `schema_migrations` records which versions a database has, so opening a
 * database runs only the ones it lacks (and running twice is a no-op).
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/**
 * OPEN_COMMAND as migrations 1 and 2 declared their partial indexes (the text
 * must stay as it was, so migration 1 makes what it always made); migration 3
 * rebuilt them with the current text.
 */
const OPEN_COMMAND_V1 =
  "status NOT IN ('completed', 'failedToSend', 'executionFailed', 'commandDropped', 'canceled', 'expired', 'error')";

/**
 * The partial-index condition of migration 3. Queries repeat it as
 * sql-shared's OPEN_COMMAND (built from the domain's policy); a test holds the
 * two equal, since SQLite uses a partial index only for a query that
 * contains the index's WHERE terms itself.
 */
export const OPEN_COMMAND_V3 =
  "status <> 'completed' AND status <> 'failedToSend' AND status <> 'executionFailed' AND status <> 'commandDropped'" +
  " AND status <> 'canceled' AND status <> 'expired' AND status <> 'error'";

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'users, devices, commands, history, idempotency keys',
    sql: `
      CREATE TABLE users (
        id              TEXT PRIMARY KEY,
        postback_secret TEXT
      ) STRICT;

      CREATE TABLE devices (
        id           TEXT PRIMARY KEY,
        user_id      TEXT NOT NULL REFERENCES users (id),
        name         TEXT NOT NULL,
        kind         TEXT,
        platform     TEXT,
        model        TEXT,
        manufacturer TEXT,
        status       TEXT NOT NULL CHECK (status IN ('Online', 'Offline', 'Standby', 'Unknown')),
        last_seen_at INTEGER,
        created_at   INTEGER NOT NULL,
        -- cleared when the device is removed, so the token stops working
        token_hash   TEXT UNIQUE,
        removed_at   INTEGER
      ) STRICT;
      CREATE INDEX devices_by_user ON devices (user_id, created_at) WHERE removed_at IS NULL;

      CREATE TABLE commands (
        id                    TEXT PRIMARY KEY,
        user_id               TEXT NOT NULL,
        device_id             TEXT NOT NULL REFERENCES devices (id),
        type                  TEXT NOT NULL CHECK (type IN ('LaunchUri', 'AppService')),
        payload_json          TEXT,
        app_service_name      TEXT,
        package_family_name   TEXT,
        permission_ticket     TEXT,
        post_back_uri         TEXT,
        status                TEXT NOT NULL CHECK (status IN ('requesting', 'sentToTarget', 'executing', 'completed',
                                'failedToSend', 'executionFailed', 'commandDropped', 'cancel', 'cancelling', 'canceled',
                                'retry', 'expired', 'error', 'custom')),
        error                 TEXT,
        response_payload_json TEXT,
        custom_status         TEXT,
        created_at            INTEGER NOT NULL,
        last_modified_at      INTEGER NOT NULL,
        expires_at            INTEGER NOT NULL,
        attempts              INTEGER NOT NULL,
        due_at                INTEGER,
        -- the sequence of the latest history entry, so the next needs no MAX()
        last_sequence         INTEGER NOT NULL,
        wake_at               INTEGER GENERATED ALWAYS AS (${WAKE_AT}) VIRTUAL
      ) STRICT;
      CREATE INDEX commands_by_device ON commands (user_id, device_id, id);
      CREATE INDEX commands_open_by_device ON commands (device_id, id, status) WHERE ${OPEN_COMMAND_V1};
      CREATE INDEX commands_open_by_wake ON commands (wake_at) WHERE ${OPEN_COMMAND_V1};

      -- AUTOINCREMENT: an id is never reused, even after deletes, because it is the SSE event id
      CREATE TABLE command_history (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        command_id TEXT NOT NULL REFERENCES commands (id),
        user_id    TEXT NOT NULL,
        sequence   INTEGER NOT NULL,
        status     TEXT NOT NULL,
        at         INTEGER NOT NULL,
        detail     TEXT
      ) STRICT;
      CREATE UNIQUE INDEX command_history_by_command ON command_history (command_id, sequence);
      CREATE INDEX command_history_by_user ON command_history (user_id, id);

      CREATE TABLE idempotency_keys (
        user_id    TEXT NOT NULL,
        key        TEXT NOT NULL,
        command_id TEXT NOT NULL REFERENCES commands (id),
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (user_id, key)
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    name: 'present devices, for the undelivered-command sweep',
    sql: `
      CREATE INDEX devices_present ON devices (id) WHERE ${PRESENT_DEVICE};
    `,
  },
  {
    version: 3,
    name: 'open-command indexes on a condition without an IN list',
    // see OPEN_COMMAND: the same indexes, cheaper to keep up to date
    sql: `
      DROP INDEX commands_open_by_device;
      DROP INDEX commands_open_by_wake;
      CREATE INDEX commands_open_by_device ON commands (device_id, id, status) WHERE ${OPEN_COMMAND_V3};
      CREATE INDEX commands_open_by_wake ON commands (wake_at) WHERE ${OPEN_COMMAND_V3};
    `,
  },
  {
    version: 4,
    name: 'connection identity, idempotency fingerprints, postback outbox and secret rotation',
    sql: `
      -- the device's latest connection: presence changes only from it
      ALTER TABLE devices ADD COLUMN connection_id TEXT;
      -- what a key was first used for (device and body): a replay must match it
      ALTER TABLE idempotency_keys ADD COLUMN fingerprint TEXT;
      ALTER TABLE users ADD COLUMN postback_secret_previous TEXT;
      ALTER TABLE users ADD COLUMN postback_secret_previous_until INTEGER;

      CREATE TABLE postbacks (
        id                   INTEGER PRIMARY KEY AUTOINCREMENT,
        command_id           TEXT NOT NULL REFERENCES commands (id),
        user_id              TEXT NOT NULL,
        sequence             INTEGER NOT NULL,
        url                  TEXT NOT NULL,
        record_json          TEXT NOT NULL,
        state                TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
        attempts             INTEGER NOT NULL,
        created_at           INTEGER NOT NULL,
        next_attempt_at      INTEGER,
        lease_until          INTEGER,
        claim_token          TEXT,
        first_attempt_at     INTEGER,
        last_attempt_at      INTEGER,
        last_response_status INTEGER,
        last_error           TEXT,
        delivered_at         INTEGER
      ) STRICT;
      CREATE UNIQUE INDEX postbacks_by_command ON postbacks (command_id, sequence);
      CREATE INDEX postbacks_due ON postbacks (next_attempt_at) WHERE state = 'pending';
    `,
  },
  {
    version: 5,
    name: 'command batches',
    // DESIGN 9: a batch row holds what never changes; its counts are read from its commands
    sql: `
      CREATE TABLE command_batches (
        id         TEXT PRIMARY KEY,
        user_id    TEXT NOT NULL,
        total      INTEGER NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX command_batches_by_user ON command_batches (user_id, id);
      ALTER TABLE commands ADD COLUMN batch_id TEXT REFERENCES command_batches (id);
      CREATE INDEX commands_by_batch ON commands (batch_id, id) WHERE batch_id IS NOT NULL;
    `,
  },
  {
    version: 6,
    name: 'device pairings',
    sql: pairingsTable('sqlite'),
  },
];

/**
 * Brings the database up to the newest migration, each in its own
 * transaction. Returns the versions it applied (none when already current).
 * Every version it lacks is applied, a lower one after a higher one too: a
 * number may be held for a migration that arrives later, so migrations that
 * may meet in either order must not depend on each other.
 * Refuses a database that a newer Appia has migrated past what this one knows.
 */
export function runMigrations(db: Database.Database, now: () => number = Date.now, migrations: readonly Migration[] = MIGRATIONS): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  ) STRICT`);
  const applied = new Set(db.prepare<[], number>('SELECT version FROM schema_migrations').pluck().all());
  const newest = migrations.reduce((max, m) => Math.max(max, m.version), 0);
  const unknown = [...applied].filter((v) => v > newest);
  if (unknown.length > 0) {
    throw new Error(
      `the database has schema version ${Math.max(...unknown)}, newer than this Appia knows (${newest}); upgrade Appia`,
    );
  }
  const isApplied = db.prepare<[number], number>('SELECT 1 FROM schema_migrations WHERE version = ?').pluck();
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  const done: number[] = [];
  for (const migration of migrations) {
    if (applied.has(migration.version)) continue;
    // immediate: take the write lock first, then look again, so two processes
    // opening one new file cannot both apply the same migration
    const ran = db
      .transaction(() => {
        if (isApplied.get(migration.version) !== undefined) return false;
        db.exec(migration.sql);
        record.run(migration.version, migration.name, now());
        return true;
      })
      .immediate();
    if (ran) done.push(migration.version);
  }
  return done;
}
