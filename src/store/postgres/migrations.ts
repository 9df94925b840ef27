import { pairingsTable } from '../pairing-sql.js';
import type { SqlClient } from './client.js';

/**
 * The PostgreSQL schema as an ordered list of migrations (its own, numbered
 * from 1 like SQLite's, but not the same list: the two schemas grew apart in
 * history, not in meaning). A migration, once released, is never edited:
 * change the schema by appending one. `schema_migrations` records which
 * versions a schema has.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

// The predicates as migration 1 declared its partial indexes, frozen here so
// that the migration keeps making what it always made. Queries use the
// current text from sql-shared.ts; PostgreSQL uses a partial index whenever
// the query's condition implies the index's, so the texts need not be equal
// (a test checks that the queries still reach these indexes).
const OPEN_COMMAND_V1 =
  "status <> 'completed' AND status <> 'failedToSend' AND status <> 'executionFailed' AND status <> 'commandDropped'" +
  " AND status <> 'canceled' AND status <> 'expired' AND status <> 'error'";
const PRESENT_DEVICE_V1 = "removed_at IS NULL AND status <> 'Offline'";
const WAKE_AT_V1 = 'CASE WHEN due_at IS NOT NULL AND due_at < expires_at THEN due_at ELSE expires_at END';

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'users, devices, commands, history, idempotency keys, postback outbox',
    // Ids that are sorted or compared with < are COLLATE "C": byte order, the
    // order SQLite uses, whatever the database's locale.
    sql: `
      CREATE TABLE users (
        id                             TEXT COLLATE "C" PRIMARY KEY,
        postback_secret                TEXT,
        -- the secret before the last rotation, still signing until then (DESIGN 6)
        postback_secret_previous       TEXT,
        postback_secret_previous_until BIGINT
      );

      CREATE TABLE devices (
        id           TEXT COLLATE "C" PRIMARY KEY,
        user_id      TEXT COLLATE "C" NOT NULL REFERENCES users (id),
        name         TEXT NOT NULL,
        kind         TEXT,
        platform     TEXT,
        model        TEXT,
        manufacturer TEXT,
        status       TEXT NOT NULL CHECK (status IN ('Online', 'Offline', 'Standby', 'Unknown')),
        last_seen_at BIGINT,
        created_at   BIGINT NOT NULL,
        -- cleared when the device is removed, so the token stops working
        token_hash   TEXT UNIQUE,
        removed_at   BIGINT,
        -- the device's latest connection (on any node): presence changes only from it
        connection_id TEXT
      );
      CREATE INDEX devices_by_user ON devices (user_id, created_at, id) WHERE removed_at IS NULL;
      CREATE INDEX devices_present ON devices (id) WHERE ${PRESENT_DEVICE_V1};

      CREATE TABLE commands (
        id                    TEXT COLLATE "C" PRIMARY KEY,
        user_id               TEXT COLLATE "C" NOT NULL,
        device_id             TEXT COLLATE "C" NOT NULL REFERENCES devices (id),
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
        created_at            BIGINT NOT NULL,
        last_modified_at      BIGINT NOT NULL,
        expires_at            BIGINT NOT NULL,
        attempts              INTEGER NOT NULL,
        due_at                BIGINT,
        -- the sequence of the latest history entry, so the next needs no MAX()
        last_sequence         INTEGER NOT NULL,
        wake_at               BIGINT GENERATED ALWAYS AS (${WAKE_AT_V1}) STORED
      );
      CREATE INDEX commands_by_device ON commands (user_id, device_id, id);
      CREATE INDEX commands_open_by_device ON commands (device_id, id) WHERE ${OPEN_COMMAND_V1};
      CREATE INDEX commands_open_by_wake ON commands (wake_at, id) WHERE ${OPEN_COMMAND_V1};

      -- an identity is never reused (it is the SSE event id); the default
      -- sequence cache of 1 hands ids out in the order they are asked for
      CREATE TABLE command_history (
        id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        command_id TEXT COLLATE "C" NOT NULL REFERENCES commands (id),
        user_id    TEXT COLLATE "C" NOT NULL,
        sequence   INTEGER NOT NULL,
        status     TEXT NOT NULL,
        at         BIGINT NOT NULL,
        detail     TEXT,
        CONSTRAINT command_history_by_command UNIQUE (command_id, sequence)
      );
      CREATE INDEX command_history_by_user ON command_history (user_id, id);

      -- A create claims its key before it stores the command (so of racing
      -- creates with one key exactly one goes on), hence the deferred check.
      CREATE TABLE idempotency_keys (
        user_id    TEXT COLLATE "C" NOT NULL,
        key        TEXT NOT NULL,
        command_id TEXT COLLATE "C" NOT NULL REFERENCES commands (id) DEFERRABLE INITIALLY DEFERRED,
        expires_at BIGINT NOT NULL,
        -- what the key was first used for (device and body): a replay must match it
        fingerprint TEXT,
        PRIMARY KEY (user_id, key)
      );

      -- DESIGN 6: the postback outbox, written in the transaction of the change it reports
      CREATE TABLE postbacks (
        id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        command_id           TEXT COLLATE "C" NOT NULL REFERENCES commands (id),
        user_id              TEXT COLLATE "C" NOT NULL,
        sequence             INTEGER NOT NULL,
        url                  TEXT NOT NULL,
        record_json          TEXT NOT NULL,
        state                TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
        attempts             INTEGER NOT NULL,
        created_at           BIGINT NOT NULL,
        next_attempt_at      BIGINT,
        lease_until          BIGINT,
        claim_token          TEXT,
        first_attempt_at     BIGINT,
        last_attempt_at      BIGINT,
        last_response_status INTEGER,
        last_error           TEXT,
        delivered_at         BIGINT,
        CONSTRAINT postbacks_by_command UNIQUE (command_id, sequence)
      );
      CREATE INDEX postbacks_due ON postbacks (next_attempt_at) WHERE state = 'pending';
    `,
  },
  {
    version: 2,
    name: 'command batches',
    // DESIGN 9: a batch row holds what never changes; its counts are read from its commands
    sql: `
      CREATE TABLE command_batches (
        id         TEXT COLLATE "C" PRIMARY KEY,
        user_id    TEXT COLLATE "C" NOT NULL,
        total      INTEGER NOT NULL,
        created_at BIGINT NOT NULL
      );
      CREATE INDEX command_batches_by_user ON command_batches (user_id, id);
      ALTER TABLE commands ADD COLUMN batch_id TEXT COLLATE "C" REFERENCES command_batches (id);
      CREATE INDEX commands_by_batch ON commands (batch_id, id) WHERE batch_id IS NOT NULL;
    `,
  },
  {
    version: 3,
    name: 'device pairings',
    sql: pairingsTable('postgres'),
  },
];

/**
 * The lock that makes migrating a schema one node's job: a transaction-level
 * advisory lock keyed by the schema's name, so nodes starting together wait
 * for the first, then find its migrations applied. ($1: the schema)
 */
export const MIGRATION_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('appia migrations ' || $1, 0))";

/**
 * Brings `schema` up to the newest migration, creating it if needed, all in
 * one transaction under MIGRATION_LOCK (PostgreSQL's DDL is transactional, so
 * a failed migration leaves nothing half made). Returns the versions it
 * applied; refuses a schema that a newer Appia has migrated past what this
 * one knows.
 */
export async function runMigrations(
  client: SqlClient,
  schema: string,
  now: () => number = Date.now,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number[]> {
  await client.query({ text: 'BEGIN' });
  try {
    await client.query({ text: MIGRATION_LOCK, values: [schema] });
    // schema is checked against SCHEMA_NAME: it needs no quoting
    await client.query({ text: `CREATE SCHEMA IF NOT EXISTS ${schema}` });
    await client.query({
      text: `CREATE TABLE IF NOT EXISTS ${schema}.schema_migrations (
        version    INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        applied_at BIGINT NOT NULL
      )`,
    });
    const { rows } = await client.query<{ version: number }>({ text: `SELECT version FROM ${schema}.schema_migrations` });
    const applied = new Set(rows.map((r) => r.version));
    const newest = migrations.reduce((max, m) => Math.max(max, m.version), 0);
    const unknown = [...applied].filter((v) => v > newest);
    if (unknown.length > 0) {
      throw new Error(
        `the schema ${schema} has version ${Math.max(...unknown)}, newer than this Appia knows (${newest}); upgrade Appia`,
      );
    }
    const done: number[] = [];
    for (const migration of migrations) {
      if (applied.has(migration.version)) continue;
      await client.query({ text: `SET LOCAL search_path = ${schema}` });
      await client.query({ text: migration.sql });
      await client.query({
        text: `INSERT INTO ${schema}.schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
        values: [migration.version, migration.name, now()],
      });
      done.push(migration.version);
    }
    await client.query({ text: 'COMMIT' });
    return done;
  } catch (err) {
    await client.query({ text: 'ROLLBACK' }).catch(() => undefined);
    throw err;
  }
}
