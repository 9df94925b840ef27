import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { CommandRecord, HistoryEntry } from '../../domain/command.js';
import type { DeviceRecord, DeviceStatus } from '../../domain/device.js';
import { AppiaError } from '../../domain/errors.js';
import type { Status } from '../../domain/status.js';
import {
  DEFAULT_IDEMPOTENCY_TTL_MS,
  NEW_DEVICE_STATUS,
  historyEntry,
  newCommandRecord,
  newDeviceRecord,
} from '../sql-shared.js';
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
import { GroupCommit } from './group-commit.js';
import { runMigrations } from './migrations.js';
import { type Statements, type TransitionParams, prepareStatements } from './statements.js';

export interface SqliteStoreOptions {
  /** the database file (its folder is created if missing), or ':memory:' */
  readonly path: string;
  /**
   * FULL (the default): a write is on disk when its promise resolves.
   * NORMAL: it survives a crash of the process but not of the machine (WAL
   * is synced at checkpoints only); several times more writes per second.
   */
  readonly synchronous?: 'FULL' | 'NORMAL';
  /** the clock that decides whether an idempotency key has expired */
  readonly now?: () => number;
  /** most writes committed in one transaction (default 1000) */
  readonly maxBatch?: number;
  /** how long a write waits for a lock held by another connection (default 5000 ms) */
  readonly busyTimeoutMs?: number;
}

/** The connection settings a SqliteStore runs with, as SQLite reports them. */
export interface SqlitePragmas {
  readonly journalMode: string;
  readonly foreignKeys: boolean;
  readonly synchronous: 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA';
  readonly busyTimeoutMs: number;
}

/**
 * Opens (creating and migrating if needed) the embedded SQLite store.
 *
 * @example
 * const store = openSqliteStore({ path: './appia-data/appia.db' });
 * await store.createDevice({ ... });
 * await store.close();
 */
export function openSqliteStore(options: SqliteStoreOptions): SqliteStore {
  const memory = options.path === ':memory:';
  if (!memory) mkdirSync(dirname(options.path), { recursive: true });
  const db = new Database(options.path);
  try {
    if (!memory) {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new Error(`SQLite refused WAL mode for ${options.path} (it is ${String(mode)})`);
    }
    db.pragma('foreign_keys = ON');
    db.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`);
    db.pragma(`synchronous = ${options.synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'}`);
    runMigrations(db);
    return new SqliteStore(db, options);
  } catch (err) {
    db.close();
    throw err;
  }
}

/**
 * The Store on SQLite (better-sqlite3, synchronous). Reads run directly;
 * writes go through a GroupCommit so that many of them share one transaction
 * and one fsync.
 */
export class SqliteStore implements Store {
  readonly #db: Database.Database;
  readonly #s: Statements;
  readonly #writes: GroupCommit;
  readonly #now: () => number;
  #closed = false;

  // Multi-statement writes, each a savepoint inside the batch's transaction.
  readonly #createDevice: (device: NewDevice) => DeviceRecord;
  readonly #createCommand: (command: NewCommand, options: CreateOptions | undefined) => CreateResult;
  readonly #transitionCommand: (change: StatusChange) => TransitionResult | undefined;

  /** use openSqliteStore */
  constructor(db: Database.Database, options: Pick<SqliteStoreOptions, 'now' | 'maxBatch'> = {}) {
    this.#db = db;
    this.#s = prepareStatements(db);
    this.#now = options.now ?? Date.now;
    this.#writes = new GroupCommit(db, { maxBatch: options.maxBatch ?? 1000, translate: storeError });
    this.#createDevice = db.transaction((device: NewDevice) => this.#insertDevice(device));
    this.#createCommand = db.transaction((command: NewCommand, options: CreateOptions | undefined) =>
      this.#insertCommand(command, options),
    );
    this.#transitionCommand = db.transaction((change: StatusChange) => this.#applyTransition(change));
  }

  // ---- devices ----

  createDevice(device: NewDevice): Promise<DeviceRecord> {
    return this.#write(() => this.#createDevice(device));
  }

  getDevice(userId: string, deviceId: string): Promise<DeviceRecord | undefined> {
    return this.#read(() => this.#s.getDevice.get(deviceId, userId));
  }

  findDeviceByTokenHash(tokenHash: string): Promise<DeviceRecord | undefined> {
    return this.#read(() => this.#s.findDeviceByTokenHash.get(tokenHash));
  }

  listDevices(userId: string, page: { limit: number; offset: number }): Promise<DeviceRecord[]> {
    return this.#read(() => this.#s.listDevices.all(userId, page.limit, page.offset));
  }

  setDevicePresence(deviceId: string, status: DeviceStatus, lastSeenAt: number): Promise<void> {
    return this.#write(() => {
      this.#s.setDevicePresence.run(status, lastSeenAt, deviceId);
    });
  }

  removeDevice(userId: string, deviceId: string, at: number): Promise<boolean> {
    return this.#write(() => this.#s.removeDevice.run(at, deviceId, userId).changes > 0);
  }

  // ---- commands ----

  createCommand(command: NewCommand, options?: CreateOptions): Promise<CreateResult> {
    return this.#write(() => this.#createCommand(command, options));
  }

  getCommand(userId: string, deviceId: string, commandId: string): Promise<CommandRecord | undefined> {
    return this.#read(() => this.#s.getCommand.get(commandId, userId, deviceId));
  }

  getCommandById(commandId: string): Promise<CommandRecord | undefined> {
    return this.#read(() => this.#s.getCommandById.get(commandId));
  }

  listCommands(userId: string, deviceId: string, query: CommandQuery): Promise<CommandRecord[]> {
    const before = query.beforeId ?? '~';
    return this.#read(() =>
      query.status === undefined
        ? this.#s.listCommands.all(userId, deviceId, before, query.limit)
        : this.#s.listCommandsByStatus.all(userId, deviceId, before, query.status, query.limit),
    );
  }

  listOpenCommands(deviceId: string): Promise<CommandRecord[]> {
    return this.#read(() => this.#s.listOpenCommands.all(deviceId));
  }

  transitionCommand(change: StatusChange): Promise<TransitionResult | undefined> {
    return this.#write(() => this.#transitionCommand(change));
  }

  claimTimer(commandId: string, status: Status, dueAt: number, nextDueAt: number | null): Promise<boolean> {
    return this.#write(() => this.#s.claimTimer.run(nextDueAt, commandId, status, dueAt).changes > 0);
  }

  listDue(now: number, limit: number): Promise<CommandRecord[]> {
    return this.#read(() => this.#s.listDue.all(now, limit));
  }

  listUndelivered(before: number, limit: number): Promise<CommandRecord[]> {
    return this.#read(() => this.#s.listUndelivered.all(before, limit));
  }

  // ---- history ----

  listHistory(commandId: string): Promise<HistoryEntry[]> {
    return this.#read(() => this.#s.listHistory.all(commandId));
  }

  listUserHistorySince(userId: string, afterId: number, limit: number): Promise<HistoryEntry[]> {
    return this.#read(() => this.#s.listUserHistorySince.all(userId, afterId, limit));
  }

  // ---- users ----

  ensurePostbackSecret(userId: string, candidate: string): Promise<string> {
    return this.#write(() => this.#s.ensurePostbackSecret.get(userId, candidate)!);
  }

  // ---- lifecycle of the store ----

  async ping(): Promise<void> {
    await this.#read(() => this.#s.ping.get());
  }

  /** Commits every queued write, then closes the database. Later calls reject `unavailable`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#writes.flush();
    this.#db.close();
  }

  /** The connection's settings, as SQLite reports them (for diagnostics and tests). */
  pragmas(): SqlitePragmas {
    this.#assertOpen();
    const synchronous = ['OFF', 'NORMAL', 'FULL', 'EXTRA'] as const;
    return {
      journalMode: String(this.#db.pragma('journal_mode', { simple: true })),
      foreignKeys: this.#db.pragma('foreign_keys', { simple: true }) === 1,
      synchronous: synchronous[Number(this.#db.pragma('synchronous', { simple: true }))] ?? 'FULL',
      busyTimeoutMs: Number(this.#db.pragma('busy_timeout', { simple: true })),
    };
  }

  // ---- the writes themselves (run inside a batch) ----

  #insertDevice(device: NewDevice): DeviceRecord {
    // a user row exists for every owner, so devices can reference it
    this.#s.ensureUser.run(device.userId);
    this.#s.insertDevice.run(
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
    );
    return newDeviceRecord(device);
  }

  #insertCommand(command: NewCommand, options: CreateOptions | undefined): CreateResult {
    const key = options?.idempotencyKey;
    if (key !== undefined) {
      // DESIGN 2: a retried create with the same key returns the first command
      const first = this.#s.findIdempotent.get(command.userId, key, this.#now());
      if (first !== undefined) return { command: first, created: false };
    }
    const owner = this.#s.deviceOwner.get(command.deviceId);
    if (owner === undefined || owner.userId !== command.userId || owner.removedAt !== null) {
      throw new AppiaError('notFound', `device ${command.deviceId} not found`);
    }
    const maxOpen = options?.maxOpen ?? 0;
    if (maxOpen > 0 && this.#s.countOpen.get(command.deviceId)! >= maxOpen) {
      throw new AppiaError('tooManyOpen', `device ${command.deviceId} already has ${maxOpen} open commands`);
    }
    this.#s.insertCommand.run(
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
      command.createdAt,
      command.expiresAt,
    );
    const historyId = this.#s.insertHistory.run(command.id, command.userId, 1, 'requesting', command.createdAt, null)
      .lastInsertRowid as number;
    if (key !== undefined) {
      const keyExpiresAt = options?.idempotencyExpiresAt ?? command.createdAt + DEFAULT_IDEMPOTENCY_TTL_MS;
      this.#s.putIdempotencyKey.run(command.userId, key, command.id, keyExpiresAt);
    }
    return {
      command: newCommandRecord(command),
      history: historyEntry(historyId, command.id, 1, 'requesting', command.createdAt, null),
      created: true,
    };
  }

  #applyTransition(change: StatusChange): TransitionResult | undefined {
    const params: TransitionParams = {
      id: change.commandId,
      from: change.from,
      to: change.to,
      at: change.at,
      setError: change.error === undefined ? 0 : 1,
      error: change.error ?? null,
      setResponse: change.responsePayloadJson === undefined ? 0 : 1,
      responsePayloadJson: change.responsePayloadJson ?? null,
      setCustomStatus: change.customStatus === undefined ? 0 : 1,
      customStatus: change.customStatus ?? null,
      setAttempts: change.attempts === undefined ? 0 : 1,
      attempts: change.attempts ?? null,
      setDueAt: change.dueAt === undefined ? 0 : 1,
      dueAt: change.dueAt ?? null,
    };
    const row = this.#s.transitionCommand.get(params);
    // DESIGN 3: the status moved on (or there is no such command); the caller re-decides
    if (row === undefined) return undefined;
    const { sequence, ...command } = row;
    const detail = change.detail ?? null;
    const historyId = this.#s.insertHistory.run(command.id, command.userId, sequence, change.to, change.at, detail)
      .lastInsertRowid as number;
    return { command, history: historyEntry(historyId, command.id, sequence, change.to, change.at, detail) };
  }

  // ---- plumbing ----

  #write<T>(write: () => T): Promise<T> {
    if (this.#closed) return Promise.reject(closedError());
    return this.#writes.submit(write);
  }

  async #read<T>(read: () => T): Promise<T> {
    this.#assertOpen();
    try {
      return read();
    } catch (err) {
      throw storeError(err);
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError();
  }
}

function closedError(): AppiaError {
  return new AppiaError('unavailable', 'the store is closed');
}

/**
 * SQLite's errors in the catalogue's terms: a broken uniqueness rule is a
 * conflict, a database that cannot be reached or written is `unavailable`
 * (503, DESIGN 2), anything else is an internal fault. Our own errors pass.
 */
function storeError(err: unknown): unknown {
  if (err instanceof AppiaError || !(err instanceof Database.SqliteError)) return err;
  const code = err.code;
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    return new AppiaError('conflict', `already stored: ${err.message}`, { cause: err });
  }
  if (/^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|CORRUPT|NOTADB|PROTOCOL)/.test(code)) {
    return new AppiaError('unavailable', `the database cannot be used: ${err.message}`, { cause: err, retryAfter: 1 });
  }
  return new AppiaError('internal', `the database refused the operation: ${err.message}`, { cause: err });
}
