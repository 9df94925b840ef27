import Database from 'better-sqlite3';
import type { CommandRecord, HistoryEntry } from '../../domain/command.js';
import type { DeviceRecord, DeviceStatus } from '../../domain/device.js';
import type { Status } from '../../domain/status.js';
import { postbackEntry } from '../sql-shared.js';
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
import { BACKSTOP_FRAMES, BackgroundCheckpointer, DEFAULT_AUTOCHECKPOINT_FRAMES } from './checkpointer.js';
import { GroupCommit } from './group-commit.js';
import { runMigrations } from './migrations.js';
import { type CommandRow, type Statements, commandFromRow, commandsFromRows, prepareStatements } from './statements.js';
import { closedError, storeError } from './errors.js';
import { ownerOnlyDatabaseFiles } from './file-modes.js';
import { readPragmas, type SqlitePragmas, type SqliteStoreOptions } from './options.js';
import { SqliteWrites } from './writes.js';

export type { SqlitePragmas, SqliteStoreOptions } from './options.js';

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
  if (!memory) ownerOnlyDatabaseFiles(options.path);
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
  readonly #checkpointer: BackgroundCheckpointer | undefined;
  #closed = false;

  /** the writes themselves, run inside a batch */
  readonly #w: SqliteWrites;

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
    this.#w = new SqliteWrites(db, this.#s, options.now ?? Date.now);
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

  createDevice(device: NewDevice, options?: CreateDeviceOptions): Promise<DeviceRecord> {
    return this.#write(() => this.#w.insertDevice(device, options), true);
  }

  getDevice(userId: string, deviceId: string): Promise<DeviceRecord | undefined> {
    return this.#read(() => this.#s.getDevice.get(deviceId, userId));
  }

  findDeviceByTokenHash(tokenHash: string): Promise<DeviceRecord | undefined> {
    return this.#read(() => this.#s.findDeviceByTokenHash.get(tokenHash));
  }

  listDevices(userId: string, query: DeviceQuery): Promise<DeviceRecord[]> {
    return this.#read(() =>
      query.status === undefined
        ? this.#s.listDevices.all(userId, query.limit, query.offset)
        : this.#s.listDevicesByStatus.all(userId, query.status, query.limit, query.offset),
    );
  }

  connectDevice(deviceId: string, connectionId: string, at: number): Promise<boolean> {
    return this.#write(() => this.#s.connectDevice.run(at, connectionId, deviceId).changes > 0);
  }

  setDevicePresence(deviceId: string, connectionId: string, status: DeviceStatus, at: number): Promise<boolean> {
    return this.#write(() => this.#s.setDevicePresence.run(status, at, deviceId, connectionId).changes > 0);
  }

  removeDevice(userId: string, deviceId: string, at: number): Promise<boolean> {
    return this.#write(() => this.#s.removeDevice.run(at, deviceId, userId).changes > 0);
  }

  // ---- commands ----

  createCommand(command: NewCommand, options?: CreateOptions): Promise<CreateResult> {
    return this.#write(() => this.#w.insertCommand(command, options), true);
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

  transitionChain(changes: readonly StatusChange[]): Promise<ChainResult> {
    return this.#write(() => this.#w.transitionChain(changes), true);
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

  // ---- postbacks ----

  claimPostbacks(now: number, limit: number, leaseMs: number): Promise<PostbackEntry[]> {
    return this.#write(() => this.#w.claimPostbacks(now, limit, leaseMs), true);
  }

  recordPostbackAttempt(id: number, claimToken: string, outcome: PostbackOutcome): Promise<boolean> {
    return this.#write(() => this.#w.recordPostbackAttempt(id, claimToken, outcome), true);
  }

  listPostbacks(commandId: string): Promise<PostbackEntry[]> {
    return this.#read(() => this.#s.listPostbacks.all(commandId).map(postbackEntry));
  }

  postbackDepth(): Promise<number> {
    return this.#read(() => this.#s.postbackDepth.get()!);
  }

  // ---- users ----

  ensurePostbackSecrets(userId: string, candidate: string): Promise<PostbackSecrets> {
    return this.#write(() => this.#s.ensurePostbackSecrets.get(userId, candidate)!);
  }

  rotatePostbackSecret(userId: string, next: string, previousUntil: number): Promise<PostbackSecrets> {
    return this.#write(() => this.#s.rotatePostbackSecret.get(userId, next, previousUntil)!);
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
    return readPragmas(this.#db);
  }

  /** resolves after the background checkpointer's next completed checkpoint; false without one or when none comes in `timeoutMs` */
  nextCheckpoint(timeoutMs: number): Promise<boolean> {
    return this.#checkpointer?.nextCheckpoint(timeoutMs) ?? Promise.resolve(false);
  }

  /** whether a background checkpointer runs (false for ':memory:', 'inline', after close, or after it failed) */
  get checkpointerRunning(): boolean {
    return this.#checkpointer?.running ?? false;
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

function optionalCommand(row: CommandRow | undefined): CommandRecord | undefined {
  return row === undefined ? undefined : commandFromRow(row);
}
