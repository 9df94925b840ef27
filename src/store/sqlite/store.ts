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
import { BACKSTOP_FRAMES, BackgroundCheckpointer, DEFAULT_AUTOCHECKPOINT_FRAMES } from './checkpointer.js';
import { GroupCommit } from './group-commit.js';
import { runMigrations } from './migrations.js';
import {
  CHANGE_LAST_SEQUENCE,
  CHANGE_ROWID,
  type CommandRow,
  SET_ATTEMPTS,
  SET_CUSTOM_STATUS,
  SET_DUE_AT,
  SET_ERROR,
  SET_RESPONSE,
  type Statements,
  TRANSITION_FIELDS,
  commandFromRow,
  commandsFromRows,
  prepareStatements,
  transitionSql,
} from './statements.js';

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
  /**
   * Who copies the WAL back into the database file. 'background' (the
   * default): a worker thread (checkpointer.ts), so commits never stall on
   * it. 'inline': SQLite's automatic checkpoint inside COMMIT, every 1000
   * pages. A ':memory:' database has no WAL.
   */
  readonly checkpoint?: 'background' | 'inline';
}

/** The connection settings a SqliteStore runs with, as SQLite reports them. */
export interface SqlitePragmas {
  readonly journalMode: string;
  readonly foreignKeys: boolean;
  readonly synchronous: 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA';
  readonly busyTimeoutMs: number;
  readonly tempStore: 'DEFAULT' | 'FILE' | 'MEMORY';
  /** WAL pages after which a commit also checkpoints (the backstop while a background checkpointer runs) */
  readonly walAutocheckpoint: number;
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
    // SQLite's temporary structures in memory. better-sqlite3 builds SQLite
    // to keep them in temporary files, and the statement journal that
    // savepoints fill spills into one past 64 KiB: in a batch of a few hundred
    // writes, every page a write touched then cost a write(2) (ten times the
    // WAL's own), and UPDATE ... RETURNING paid for a file-backed buffer.
    db.pragma('temp_store = MEMORY');
    const background = !memory && options.checkpoint !== 'inline';
    if (background) db.pragma(`wal_autocheckpoint = ${BACKSTOP_FRAMES}`);
    runMigrations(db);
    return new SqliteStore(db, {
      ...options,
      ...(background ? { backgroundCheckpoint: { path: options.path, synchronous: options.synchronous ?? 'FULL' } } : {}),
    });
  } catch (err) {
    db.close();
    throw err;
  }
}

/**
 * The Store on SQLite (better-sqlite3, synchronous). Writes go through a
 * GroupCommit so that many of them share one transaction and one fsync; reads
 * run at once, in the read transaction of the current turn of the event loop
 * (GroupCommit.read).
 */
export class SqliteStore implements Store {
  readonly #db: Database.Database;
  readonly #s: Statements;
  readonly #writes: GroupCommit;
  readonly #now: () => number;
  readonly #checkpointer: BackgroundCheckpointer | undefined;
  #closed = false;

  /** the status-change UPDATE for each set of changed fields (a TRANSITION_FIELDS mask), prepared when first needed */
  readonly #transitionStatements: (Database.Statement | undefined)[] = new Array(1 << TRANSITION_FIELDS.length);

  /** use openSqliteStore */
  constructor(
    db: Database.Database,
    options: Pick<SqliteStoreOptions, 'now' | 'maxBatch' | 'busyTimeoutMs'> & {
      /** start a BackgroundCheckpointer on this file (the connection's wal_autocheckpoint is its backstop) */
      readonly backgroundCheckpoint?: { readonly path: string; readonly synchronous: 'FULL' | 'NORMAL'; readonly workerUrl?: URL };
    } = {},
  ) {
    this.#db = db;
    this.#s = prepareStatements(db);
    this.#now = options.now ?? Date.now;
    const checkpointer = options.backgroundCheckpoint
      ? new BackgroundCheckpointer({
          ...options.backgroundCheckpoint,
          ...(options.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: options.busyTimeoutMs }),
          onFailure: () => this.#checkpointerFailed(),
        })
      : undefined;
    this.#checkpointer = checkpointer;
    this.#writes = new GroupCommit(db, {
      maxBatch: options.maxBatch ?? 1000,
      translate: storeError,
      ...(checkpointer ? { onCommit: () => checkpointer.committed() } : {}),
    });
  }

  // ---- devices ----

  createDevice(device: NewDevice): Promise<DeviceRecord> {
    return this.#write(() => this.#insertDevice(device), true);
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
    return this.#write(() => this.#insertCommand(command, options), true);
  }

  getCommand(userId: string, deviceId: string, commandId: string): Promise<CommandRecord | undefined> {
    return this.#read(() => optionalCommand(this.#s.getCommand.get(commandId, userId, deviceId)));
  }

  getCommandById(commandId: string): Promise<CommandRecord | undefined> {
    return this.#read(() => optionalCommand(this.#s.getCommandById.get(commandId)));
  }

  listCommands(userId: string, deviceId: string, query: CommandQuery): Promise<CommandRecord[]> {
    const before = query.beforeId ?? '~';
    return this.#read(() =>
      query.status === undefined
        ? commandsFromRows(this.#s.listCommands.all(userId, deviceId, before, query.limit))
        : commandsFromRows(this.#s.listCommandsByStatus.all(userId, deviceId, before, query.status, query.limit)),
    );
  }

  listOpenCommands(deviceId: string): Promise<CommandRecord[]> {
    return this.#read(() => commandsFromRows(this.#s.listOpenCommands.all(deviceId)));
  }

  transitionCommand(change: StatusChange): Promise<TransitionResult | undefined> {
    return this.#write(() => this.#applyTransition(change), true);
  }

  claimTimer(commandId: string, status: Status, dueAt: number, nextDueAt: number | null): Promise<boolean> {
    return this.#write(() => this.#s.claimTimer.run(nextDueAt, commandId, status, dueAt).changes > 0);
  }

  listDue(now: number, limit: number): Promise<CommandRecord[]> {
    return this.#read(() => commandsFromRows(this.#s.listDue.all(now, limit)));
  }

  listUndelivered(before: number, limit: number): Promise<CommandRecord[]> {
    return this.#read(() => commandsFromRows(this.#s.listUndelivered.all(before, limit)));
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
    // the checkpointer's last checkpoint first, so that closing the main
    // connection, the last one, finds the WAL copied and removes it
    await this.#checkpointer?.close();
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
      tempStore: (['DEFAULT', 'FILE', 'MEMORY'] as const)[Number(this.#db.pragma('temp_store', { simple: true }))] ?? 'DEFAULT',
      walAutocheckpoint: Number(this.#db.pragma('wal_autocheckpoint', { simple: true })),
    };
  }

  /** whether a background checkpointer runs (false for ':memory:', 'inline', after close, or after it failed) */
  get checkpointerRunning(): boolean {
    return this.#checkpointer?.running ?? false;
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
      if (first !== undefined) return { command: commandFromRow(first), created: false };
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
    // Read, then write: in the batch's transaction nothing can come between
    // (one connection, one thread). Cheaper than UPDATE ... RETURNING every
    // column, and the row read tells which fields really change.
    const row = this.#s.commandForChange.get(change.commandId);
    if (row === undefined) return undefined;
    const before = commandFromRow(row);
    // DESIGN 3: the status moved on; the caller re-reads and re-decides
    if (before.status !== change.from) return undefined;
    const command = changedRecord(before, change);
    const sequence = row[CHANGE_LAST_SEQUENCE] + 1;
    let mask = 0;
    const values: (string | number | null)[] = [change.to, change.at, sequence];
    if (command.error !== before.error) {
      mask |= SET_ERROR;
      values.push(command.error);
    }
    if (command.responsePayloadJson !== before.responsePayloadJson) {
      mask |= SET_RESPONSE;
      values.push(command.responsePayloadJson);
    }
    if (command.customStatus !== before.customStatus) {
      mask |= SET_CUSTOM_STATUS;
      values.push(command.customStatus);
    }
    if (command.attempts !== before.attempts) {
      mask |= SET_ATTEMPTS;
      values.push(command.attempts);
    }
    if (command.dueAt !== before.dueAt) {
      mask |= SET_DUE_AT;
      values.push(command.dueAt);
    }
    values.push(row[CHANGE_ROWID], change.from);
    const update = (this.#transitionStatements[mask] ??= this.#db.prepare(transitionSql(mask)));
    if (update.run(...values).changes !== 1) {
      throw new AppiaError('internal', `command ${change.commandId} changed between its read and its write`);
    }
    const detail = change.detail ?? null;
    const historyId = this.#s.insertHistory.run(command.id, command.userId, sequence, change.to, change.at, detail)
      .lastInsertRowid as number;
    return { command, history: historyEntry(historyId, command.id, sequence, change.to, change.at, detail) };
  }

  // ---- plumbing ----

  /** The worker is gone: SQLite's own automatic checkpoint takes over, so the WAL stays small. */
  #checkpointerFailed(): void {
    if (this.#closed) return;
    try {
      this.#db.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT_FRAMES}`);
    } catch {
      // the connection is unusable: writes fail on their own
    }
  }

  /** `multiStatement`: the write changes rows with more than one statement (see GroupCommit) */
  #write<T>(write: () => T, multiStatement = false): Promise<T> {
    if (this.#closed) return Promise.reject(closedError());
    return this.#writes.submit(write, multiStatement);
  }

  async #read<T>(read: () => T): Promise<T> {
    this.#assertOpen();
    try {
      return this.#writes.read(read);
    } catch (err) {
      throw storeError(err);
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError();
  }
}

/** the command as a status change leaves it: undefined fields of the change keep their value */
function changedRecord(row: CommandRecord, change: StatusChange): CommandRecord {
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
    status: change.to,
    error: change.error === undefined ? row.error : change.error,
    responsePayloadJson: change.responsePayloadJson === undefined ? row.responsePayloadJson : change.responsePayloadJson,
    customStatus: change.customStatus === undefined ? row.customStatus : change.customStatus,
    createdAt: row.createdAt,
    lastModifiedAt: change.at,
    expiresAt: row.expiresAt,
    attempts: change.attempts === undefined ? row.attempts : change.attempts,
    dueAt: change.dueAt === undefined ? row.dueAt : change.dueAt,
  };
}

function optionalCommand(row: CommandRow | undefined): CommandRecord | undefined {
  return row === undefined ? undefined : commandFromRow(row);
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
