import type { CommandRecord, HistoryEntry } from '../../domain/command.js';
import type { DeviceRecord, DeviceStatus } from '../../domain/device.js';
import type { Status } from '../../domain/status.js';
import { NEW_DEVICE_STATUS, newDeviceRecord, postbackEntry } from '../sql-shared.js';
import type {
  ChainResult,
  CommandQuery,
  CreateDeviceOptions,
  CreateOptions,
  DeviceQuery,
  CreateResult,
  NewCommand,
  NewDevice,
  PostbackEntry,
  PostbackOutcome,
  PostbackSecrets,
  StatusChange,
  Store,
} from '../store.js';
import { tooManyDevices } from '../store.js';
import type { BatchCommandQuery, BatchQuery, CreateBatchResult, NewBatch } from '../store.js';
import type { BatchRecord } from '../../domain/batch.js';
import { PostgresBatches } from './batches.js';
import { type SqlPool, openPool } from './client.js';
import { startupFailure } from './errors.js';
import { LOCK_FEED_FOR_READING } from './feed.js';
import { runMigrations } from './migrations.js';
import { QueryRunner } from './runner.js';
import type { StatementName } from './statements.js';
import { PostgresWrites, statement } from './writes.js';
import { PostgresPairings } from './pairing.js';
import { PostgresPresence } from './presence.js';

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
 * statement, or one transaction on one pooled connection (writes.ts); what
 * SQLite's single writer gave for free, row locks, compare-and-set
 * statements and the feed lock (feed.ts) give here.
 */
export class PostgresStore implements Store {
  readonly pairings: PostgresPairings;
  readonly presence: PostgresPresence;
  readonly #db: QueryRunner;
  readonly #writes: PostgresWrites;
  readonly #batches: PostgresBatches;

  /** use openPostgresStore */
  constructor(db: QueryRunner, now: () => number) {
    this.pairings = new PostgresPairings(db);
    this.presence = new PostgresPresence(db);
    this.#db = db;
    this.#writes = new PostgresWrites(db, now);
    this.#batches = new PostgresBatches(db, now);
  }

  // ---- devices ----

  createDevice(device: NewDevice, options?: CreateDeviceOptions): Promise<DeviceRecord> {
    return this.#db.transaction(async (tx) => {
      // a user row exists for every owner, so devices can reference it
      void tx.query(statement('ensureUser', [device.userId])).catch(() => undefined);
      // DESIGN 8: counted under the user's row lock, so racing registrations never pass the limit
      const maxDevices = options?.maxDevices ?? 0;
      if (maxDevices > 0) {
        await tx.query(statement('lockUser', [device.userId]));
        if ((await tx.query<{ devices: number }>(statement('countDevices', [device.userId]))).rows[0]!.devices >= maxDevices) throw tooManyDevices(maxDevices);
      }
      await tx.finish(
        statement('insertDevice', [
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
        ]),
      );
      return newDeviceRecord(device);
    });
  }

  async getDevice(userId: string, deviceId: string): Promise<DeviceRecord | undefined> {
    return (await this.#read<DeviceRecord>('getDevice', [deviceId, userId]))[0];
  }

  async findDeviceByTokenHash(tokenHash: string): Promise<DeviceRecord | undefined> {
    return (await this.#read<DeviceRecord>('findDeviceByTokenHash', [tokenHash]))[0];
  }

  listDevices(userId: string, query: DeviceQuery): Promise<DeviceRecord[]> {
    return query.status === undefined
      ? this.#read('listDevices', [userId, query.limit, query.offset])
      : this.#read('listDevicesByStatus', [userId, query.status, query.limit, query.offset]);
  }

  // Presence writes set the same values when repeated: they may be retried like reads.
  async connectDevice(deviceId: string, connectionId: string, at: number): Promise<boolean> {
    return ((await this.#db.read(statement('connectDevice', [at, connectionId, deviceId]))).rowCount ?? 0) > 0;
  }

  async setDevicePresence(deviceId: string, connectionId: string, status: DeviceStatus, at: number): Promise<boolean> {
    return ((await this.#db.read(statement('setDevicePresence', [status, at, deviceId, connectionId]))).rowCount ?? 0) > 0;
  }

  async removeDevice(userId: string, deviceId: string, at: number): Promise<boolean> {
    return ((await this.#db.write(statement('removeDevice', [at, deviceId, userId]))).rowCount ?? 0) > 0;
  }

  // ---- commands ----

  createCommand(command: NewCommand, options?: CreateOptions): Promise<CreateResult> {
    return this.#writes.createCommand(command, options);
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

  transitionChain(changes: readonly StatusChange[]): Promise<ChainResult> {
    return this.#writes.transitionChain(changes);
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

  // ---- command batches (DESIGN 9: batches.ts) ----

  createBatch(batch: NewBatch, options?: CreateOptions): Promise<CreateBatchResult> {
    return this.#batches.create(batch, options);
  }

  getBatch(userId: string, batchId: string): Promise<BatchRecord | undefined> {
    return this.#batches.get(userId, batchId);
  }

  listBatches(userId: string, query: BatchQuery): Promise<BatchRecord[]> {
    return this.#batches.list(userId, query);
  }

  listBatchCommands(userId: string, batchId: string, query: BatchCommandQuery): Promise<CommandRecord[]> {
    return this.#batches.commands(userId, batchId, query);
  }

  // ---- history ----

  listHistory(commandId: string): Promise<HistoryEntry[]> {
    return this.#read('listHistory', [commandId]);
  }

  listUserHistorySince(userId: string, afterId: number, limit: number): Promise<HistoryEntry[]> {
    // the feed lock first, then the snapshot: no entry below one returned can still commit (feed.ts)
    return this.#db.transaction(async (tx) => {
      void tx.query({ name: 'lockFeed', text: LOCK_FEED_FOR_READING, values: [userId] }).catch(() => undefined);
      return (await tx.finish<HistoryEntry>(statement('listUserHistorySince', [userId, afterId, limit]))).rows;
    }, true);
  }

  lastUserHistoryId(userId: string): Promise<number> {
    // under the feed lock, as listUserHistorySince: no lower id can still commit after this
    return this.#db.transaction(async (tx) => {
      void tx.query({ name: 'lockFeed', text: LOCK_FEED_FOR_READING, values: [userId] }).catch(() => undefined);
      return (await tx.finish<{ id: number }>(statement('lastUserHistoryId', [userId]))).rows[0]!.id;
    }, true);
  }

  // ---- postbacks ----

  claimPostbacks(now: number, limit: number, leaseMs: number): Promise<PostbackEntry[]> {
    return this.#writes.claimPostbacks(now, limit, leaseMs);
  }

  recordPostbackAttempt(id: number, claimToken: string, outcome: PostbackOutcome): Promise<boolean> {
    return this.#writes.recordPostbackAttempt(id, claimToken, outcome);
  }

  async listPostbacks(commandId: string): Promise<PostbackEntry[]> {
    return (await this.#read<Omit<PostbackEntry, 'webhookId'>>('listPostbacks', [commandId])).map(postbackEntry);
  }

  async postbackDepth(): Promise<number> {
    return (await this.#read<{ depth: number }>('postbackDepth', []))[0]!.depth;
  }

  // ---- users ----

  async ensurePostbackSecrets(userId: string, candidate: string): Promise<PostbackSecrets> {
    // offering the same candidate again answers the same: it may be retried like a read
    return (await this.#read<PostbackSecrets>('ensurePostbackSecrets', [userId, candidate]))[0]!;
  }

  async rotatePostbackSecret(userId: string, next: string, previousUntil: number): Promise<PostbackSecrets> {
    return (await this.#db.write<PostbackSecrets>(statement('rotatePostbackSecret', [userId, next, previousUntil]))).rows[0]!;
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
