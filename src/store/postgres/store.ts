import type { CommandRecord, HistoryEntry } from '../../domain/command.js';
import type { DeviceRecord, DeviceStatus } from '../../domain/device.js';
import { AppiaError } from '../../domain/errors.js';
import type { Status } from '../../domain/status.js';
import { DEFAULT_IDEMPOTENCY_TTL_MS, NEW_DEVICE_STATUS, historyEntry, newCommandRecord, newDeviceRecord } from '../sql-shared.js';
import type {
  CommandQuery,
  CreateOptions,
  CreateResult,
  NewCommand,
  NewDevice,
  StatusChange,
  Store,
  TransitionResult,
} from '../store.js';
import { type SqlClient, type SqlPool, openPool } from './client.js';
import { startupFailure } from './errors.js';
import { runMigrations } from './migrations.js';
import { QueryRunner } from './runner.js';
import {
  type DeviceOwner,
  SQL,
  type StatementName,
  type TransitionRow,
  changeMask,
  transitionSql,
  transitionValues,
} from './statements.js';

export interface PostgresStoreOptions {
  /** postgres://user:password@host:port/database (any libpq-style URL node-postgres accepts) */
  readonly url: string;
  /** the schema Appia's tables live in, created if missing (a lower-case identifier); else the server's search_path */
  readonly schema?: string;
  /** pooled connections (default 10) */
  readonly poolSize?: number;
  /** the clock that decides whether an idempotency key has expired */
  readonly now?: () => number;
  /** how the connections show in pg_stat_activity (default 'appia') */
  readonly applicationName?: string;
  /** how long a call waits for a connection before it fails `unavailable` (default 10000 ms) */
  readonly connectTimeoutMs?: number;
  /** an idle pooled connection broke (PostgreSQL restarted or ended it); the pool replaces it when next needed */
  readonly onIdleError?: (err: Error) => void;
}

/**
 * Opens the PostgreSQL store: connects, creates the schema if needed and
 * migrates it (one node at a time). Rejects with one line naming the URL
 * (without its password) and what is wrong when the database cannot be used.
 *
 * @example
 * const store = await openPostgresStore({ url: 'postgres://appia@db.internal/appia', schema: 'appia' });
 * await store.ping();
 * await store.close();
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const poolSize = options.poolSize ?? 10;
  let pool: SqlPool;
  try {
    pool = openPool({
      url: options.url,
      ...(options.schema === undefined ? {} : { schema: options.schema }),
      poolSize,
      applicationName: options.applicationName ?? 'appia',
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      onIdleError: options.onIdleError ?? (() => undefined),
    });
  } catch (err) {
    throw startupFailure(options.url, err);
  }
  try {
    const client = await pool.connect();
    try {
      const schema =
        options.schema ?? (await client.query<{ schema: string | null }>({ text: 'SELECT current_schema() AS schema' })).rows[0]?.schema;
      if (!schema) throw new Error('no schema of its search_path exists; name one in the options');
      await runMigrations(client, schema, options.now);
    } finally {
      client.release();
    }
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw startupFailure(options.url, err);
  }
  return new PostgresStore(new QueryRunner(pool, poolSize), options.now ?? Date.now);
}

/**
 * The Store on PostgreSQL (node-postgres Pool). Each operation is one
 * statement, or one transaction on one pooled connection; what SQLite's
 * single writer gave for free, row locks and compare-and-set statements give
 * here (each method says how).
 */
export class PostgresStore implements Store {
  readonly #db: QueryRunner;
  readonly #now: () => number;

  /** use openPostgresStore */
  constructor(db: QueryRunner, now: () => number) {
    this.#db = db;
    this.#now = now;
  }

  // ---- devices ----

  createDevice(device: NewDevice): Promise<DeviceRecord> {
    return this.#db.transaction(async (tx) => {
      // a user row exists for every owner, so devices can reference it
      await run(tx, 'ensureUser', [device.userId]);
      await run(tx, 'insertDevice', [
        device.id,
        device.userId,
        device.name,
        device.kind,
        device.platform,
        device.model,
        device.manufacturer,
        NEW_DEVICE_STATUS,
        device.tokenHash,
        device.createdAt,
      ]);
      return newDeviceRecord(device);
    });
  }

  async getDevice(userId: string, deviceId: string): Promise<DeviceRecord | undefined> {
    return (await this.#read<DeviceRecord>('getDevice', [deviceId, userId]))[0];
  }

  async findDeviceByTokenHash(tokenHash: string): Promise<DeviceRecord | undefined> {
    return (await this.#read<DeviceRecord>('findDeviceByTokenHash', [tokenHash]))[0];
  }

  listDevices(userId: string, page: { limit: number; offset: number }): Promise<DeviceRecord[]> {
    return this.#read('listDevices', [userId, page.limit, page.offset]);
  }

  async setDevicePresence(deviceId: string, status: DeviceStatus, lastSeenAt: number): Promise<void> {
    // setting the same values twice is one setting: it may be repeated like a read
    await this.#db.read(statement('setDevicePresence', [status, lastSeenAt, deviceId]));
  }

  async removeDevice(userId: string, deviceId: string, at: number): Promise<boolean> {
    return ((await this.#db.write(statement('removeDevice', [at, deviceId, userId]))).rowCount ?? 0) > 0;
  }

  // ---- commands ----

  createCommand(command: NewCommand, options?: CreateOptions): Promise<CreateResult> {
    return this.#db.transaction(async (tx) => {
      const key = options?.idempotencyKey;
      if (key !== undefined) {
        // DESIGN 2: a retried create with the same key returns the first command
        const keyExpiresAt = options?.idempotencyExpiresAt ?? command.createdAt + DEFAULT_IDEMPOTENCY_TTL_MS;
        const claim = await run(tx, 'claimIdempotencyKey', [command.userId, key, command.id, keyExpiresAt, this.#now()]);
        if (claim.rowCount === 0) {
          const [first] = await rows<CommandRecord>(tx, 'idempotentCommand', [command.userId, key]);
          if (first === undefined) throw new AppiaError('internal', `idempotency key without its command`);
          return { command: first, created: false };
        }
      }
      const maxOpen = options?.maxOpen ?? 0;
      const [owner] = await rows<DeviceOwner>(tx, maxOpen > 0 ? 'deviceForLimitedCreate' : 'deviceForCreate', [command.deviceId]);
      if (owner === undefined || owner.userId !== command.userId || owner.removedAt !== null) {
        throw new AppiaError('notFound', `device ${command.deviceId} not found`);
      }
      // counted under the device's row lock: a racing create waits, then counts this one
      if (maxOpen > 0 && (await rows<{ open: number }>(tx, 'countOpen', [command.deviceId]))[0]!.open >= maxOpen) {
        throw new AppiaError('tooManyOpen', `device ${command.deviceId} already has ${maxOpen} open commands`);
      }
      const [entry] = await rows<{ id: number }>(tx, 'insertCommand', [
        command.id,
        command.userId,
        command.deviceId,
        command.type,
        command.payloadJson,
        command.appServiceName,
        command.packageFamilyName,
        command.permissionTicket,
        command.postBackUri,
        command.createdAt,
        command.expiresAt,
      ]);
      return {
        command: newCommandRecord(command),
        history: historyEntry(entry!.id, command.id, 1, 'requesting', command.createdAt, null),
        created: true,
      };
    });
  }

  async getCommand(userId: string, deviceId: string, commandId: string): Promise<CommandRecord | undefined> {
    return (await this.#read<CommandRecord>('getCommand', [commandId, userId, deviceId]))[0];
  }

  async getCommandById(commandId: string): Promise<CommandRecord | undefined> {
    return (await this.#read<CommandRecord>('getCommandById', [commandId]))[0];
  }

  listCommands(userId: string, deviceId: string, query: CommandQuery): Promise<CommandRecord[]> {
    const before = query.beforeId ?? '~';
    return query.status === undefined
      ? this.#read('listCommands', [userId, deviceId, before, query.limit])
      : this.#read('listCommandsByStatus', [userId, deviceId, before, query.status, query.limit]);
  }

  listOpenCommands(deviceId: string): Promise<CommandRecord[]> {
    return this.#read('listOpenCommands', [deviceId]);
  }

  async transitionCommand(change: StatusChange): Promise<TransitionResult | undefined> {
    const mask = changeMask(change);
    const query = { name: `transition_${mask}`, text: transitionSql(mask), values: transitionValues(change) };
    const [row] = (await this.#db.write<TransitionRow>(query)).rows;
    if (row === undefined) return undefined;
    return {
      command: commandRecord(row),
      history: historyEntry(row.historyId, row.id, row.sequence, row.status, row.lastModifiedAt, change.detail ?? null),
    };
  }

  async claimTimer(commandId: string, status: Status, dueAt: number, nextDueAt: number | null): Promise<boolean> {
    return (await this.#db.write(statement('claimTimer', [nextDueAt, commandId, status, dueAt]))).rowCount === 1;
  }

  listDue(now: number, limit: number): Promise<CommandRecord[]> {
    return this.#read('listDue', [now, limit]);
  }

  listUndelivered(before: number, limit: number): Promise<CommandRecord[]> {
    return this.#read('listUndelivered', [before, limit]);
  }

  // ---- history ----

  listHistory(commandId: string): Promise<HistoryEntry[]> {
    return this.#read('listHistory', [commandId]);
  }

  listUserHistorySince(userId: string, afterId: number, limit: number): Promise<HistoryEntry[]> {
    // the feed lock first, then the snapshot: no entry below one returned can still commit (statements.ts)
    return this.#db.transaction(async (tx) => {
      await run(tx, 'lockFeed', [userId]);
      return rows<HistoryEntry>(tx, 'listUserHistorySince', [userId, afterId, limit]);
    }, true);
  }

  // ---- users ----

  async ensurePostbackSecret(userId: string, candidate: string): Promise<string> {
    // offering the same candidate again returns the same secret: it may be repeated like a read
    return (await this.#db.rows<{ secret: string }>(statement('ensurePostbackSecret', [userId, candidate])))[0]!.secret;
  }

  // ---- lifecycle of the store ----

  async ping(): Promise<void> {
    await this.#db.read(statement('ping', []));
  }

  /** Lets the calls already made finish, then closes the pool. Later calls reject `unavailable`. */
  close(): Promise<void> {
    return this.#db.close();
  }

  #read<R>(name: StatementName, values: readonly unknown[]): Promise<R[]> {
    return this.#db.rows<R>(statement(name, values));
  }
}

function statement(name: StatementName, values: readonly unknown[]) {
  return { name, text: SQL[name], values };
}

function run(tx: SqlClient, name: StatementName, values: readonly unknown[]) {
  return tx.query(statement(name, values));
}

async function rows<R>(tx: SqlClient, name: StatementName, values: readonly unknown[]): Promise<R[]> {
  return (await tx.query<R>(statement(name, values))).rows;
}

/** the command fields of a row that carries more (a record compares equal only with exactly its fields) */
function commandRecord(row: CommandRecord): CommandRecord {
  return {
    id: row.id,
    userId: row.userId,
    deviceId: row.deviceId,
    type: row.type,
    payloadJson: row.payloadJson,
    appServiceName: row.appServiceName,
    packageFamilyName: row.packageFamilyName,
    permissionTicket: row.permissionTicket,
    postBackUri: row.postBackUri,
    status: row.status,
    error: row.error,
    responsePayloadJson: row.responsePayloadJson,
    customStatus: row.customStatus,
    createdAt: row.createdAt,
    lastModifiedAt: row.lastModifiedAt,
    expiresAt: row.expiresAt,
    attempts: row.attempts,
    dueAt: row.dueAt,
  };
}
