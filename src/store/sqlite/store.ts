import type Database from 'better-sqlite3';
import type { CommandRecord, HistoryEntry } from '../../domain/command.js';
import type { DeviceRecord, DeviceStatus } from '../../domain/device.js';
import type { Status } from '../../domain/status.js';
import { postbackEntry } from '../sql-shared.js';
import type { ChainResult, CommandQuery, CreateDeviceOptions, CreateOptions, DeviceQuery, CreateResult, NewCommand, NewDevice } from '../store.js';
import type { BatchCommandQuery, BatchQuery, CreateBatchResult, NewBatch, PostbackEntry, PostbackOutcome, PostbackSecrets, StatusChange, Store } from '../store.js';
import type { BatchRecord } from '../../domain/batch.js';
import { SqliteBatchReads } from './batches.js';
import { BACKSTOP_FRAMES, BackgroundCheckpointer, DEFAULT_AUTOCHECKPOINT_FRAMES } from './checkpointer.js';
import { GroupCommit } from './group-commit.js';
import { runMigrations } from './migrations.js';
import { type Statements, commandsFromRows, optionalCommand, prepareStatements } from './statements.js';
import { closedError, storeError } from './errors.js';
import { ownerOnlyDatabaseFiles } from './file-modes.js';
import { readPragmas, type SqlitePragmas, type SqliteStoreOptions } from './options.js';
import { SqliteWrites } from './writes.js';
import { SqlitePairings } from './pairing.js';
import { SqlitePresence } from './presence.js';
import { openConnection } from './connection.js';
import type { WriteArgs, WriteName, WriteResult } from './write-ops.js';
import { InlineWriter, ThreadWriter, type Writer, type WriterThreadData } from './writer.js';

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
  const background = !memory && options.checkpoint !== 'inline';
  const settings = {
    synchronous: options.synchronous ?? 'FULL',
    busyTimeoutMs: options.busyTimeoutMs ?? 5000,
    ...(background ? { autocheckpointFrames: BACKSTOP_FRAMES } : {}),
  } as const;
  const db = openConnection(options.path, settings);
  try {
    runMigrations(db);
    return new SqliteStore(db, {
      ...options,
      ...(background ? { backgroundCheckpoint: { path: options.path, synchronous: settings.synchronous } } : {}),
      ...(!memory && options.writer === 'thread' ? { writerThread: { ...settings, path: options.path } } : {}),
    });
  } catch (err) {
    db.close();
    throw err;
  }
}

/**
 * The Store on SQLite (better-sqlite3, synchronous). Writes go by name
 * (write-ops.ts) to a Writer: a GroupCommit on this connection, or with
 * `writer: 'thread'` a writer thread's own connection (writer.ts); either
 * way many share one transaction and one fsync. Reads run at once on this
 * connection, in the read transaction of the current turn of the event loop
 * (GroupCommit.read), which ends before any write's promise settles.
 */
export class SqliteStore implements Store {
  readonly #db: Database.Database;
  readonly #s: Statements;
  /** this connection's reads (and its writes, when there is no writer thread) */
  readonly #group: GroupCommit;
  readonly #writer: Writer;
  readonly #checkpointer: BackgroundCheckpointer | undefined;
  readonly #now: () => number;
  readonly #batches: SqliteBatchReads;
  #closed = false;
  readonly pairings = new SqlitePairings((name, ...args) => this.#write(name, ...args));
  readonly presence = new SqlitePresence((name, ...args) => this.#write(name, ...args));

  /** use openSqliteStore */
  constructor(
    db: Database.Database,
    options: Pick<SqliteStoreOptions, 'now' | 'maxBatch' | 'busyTimeoutMs'> & {
      /** start a BackgroundCheckpointer on this file (the connection's wal_autocheckpoint is its backstop) */
      readonly backgroundCheckpoint?: { readonly path: string; readonly synchronous: 'FULL' | 'NORMAL'; readonly workerUrl?: URL };
      /** run the writes on a writer thread with its own connection to this file (else on `db`, here) */
      readonly writerThread?: Omit<WriterThreadData, 'maxBatch'>;
    } = {},
  ) {
    this.#db = db;
    this.#s = prepareStatements(db);
    this.#batches = new SqliteBatchReads(db);
    this.#now = options.now ?? Date.now;
    const checkpointer = options.backgroundCheckpoint
      ? new BackgroundCheckpointer({
          ...options.backgroundCheckpoint,
          ...(options.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: options.busyTimeoutMs }),
          onFailure: () => this.#checkpointerFailed(),
        })
      : undefined;
    this.#checkpointer = checkpointer;
    const maxBatch = options.maxBatch ?? 1000;
    this.#group = new GroupCommit(db, { maxBatch, translate: storeError, ...(checkpointer ? { onCommit: () => checkpointer.committed() } : {}) });
    this.#writer = options.writerThread
      ? new ThreadWriter({ ...options.writerThread, maxBatch }, (commits) => {
          // a read after a write has settled must see it: a new snapshot from here on
          this.#group.endRead();
          for (let i = 0; i < commits; i++) checkpointer?.committed();
        })
      : new InlineWriter(this.#group, new SqliteWrites(db, this.#s), (frames) => db.pragma(`wal_autocheckpoint = ${frames}`));
  }

  // ---- devices ----

  createDevice(device: NewDevice, options?: CreateDeviceOptions): Promise<DeviceRecord> {
    return this.#write('insertDevice', device, options);
  }

  getDevice(userId: string, deviceId: string): Promise<DeviceRecord | undefined> {
    return this.#read(() => this.#s.getDevice.get(deviceId, userId));
  }

  findDeviceByTokenHash(tokenHash: string): Promise<DeviceRecord | undefined> {
    return this.#read(() => this.#s.findDeviceByTokenHash.get(tokenHash));
  }

  listDevices(userId: string, query: DeviceQuery): Promise<DeviceRecord[]> {
    const { limit, offset, status } = query;
    return this.#read(() => (status === undefined ? this.#s.listDevices.all(userId, limit, offset) : this.#s.listDevicesByStatus.all(userId, status, limit, offset)));
  }

  connectDevice(deviceId: string, connectionId: string, at: number): Promise<boolean> {
    return this.#write('connectDevice', deviceId, connectionId, at);
  }

  setDevicePresence(deviceId: string, connectionId: string, status: DeviceStatus, at: number): Promise<boolean> {
    return this.#write('setDevicePresence', deviceId, connectionId, status, at);
  }

  removeDevice(userId: string, deviceId: string, at: number): Promise<boolean> {
    return this.#write('removeDevice', userId, deviceId, at);
  }

  // ---- commands ----

  createCommand(command: NewCommand, options?: CreateOptions): Promise<CreateResult> {
    return this.#write('insertCommand', command, options, this.#now());
  }

  getCommand(userId: string, deviceId: string, commandId: string): Promise<CommandRecord | undefined> {
    return this.#read(() => optionalCommand(this.#s.getCommand.get(commandId, userId, deviceId)));
  }

  getCommandById(commandId: string): Promise<CommandRecord | undefined> {
    return this.#read(() => optionalCommand(this.#s.getCommandById.get(commandId)));
  }

  listCommands(userId: string, deviceId: string, query: CommandQuery): Promise<CommandRecord[]> {
    const { beforeId = '~', limit, status } = query;
    return this.#read(() =>
      commandsFromRows(status === undefined ? this.#s.listCommands.all(userId, deviceId, beforeId, limit) : this.#s.listCommandsByStatus.all(userId, deviceId, beforeId, status, limit)),
    );
  }

  listOpenCommands(deviceId: string): Promise<CommandRecord[]> {
    return this.#read(() => commandsFromRows(this.#s.listOpenCommands.all(deviceId)));
  }

  transitionChain(changes: readonly StatusChange[]): Promise<ChainResult> {
    return this.#write('transitionChain', changes);
  }

  claimTimer(commandId: string, status: Status, dueAt: number, nextDueAt: number | null): Promise<boolean> {
    return this.#write('claimTimer', commandId, status, dueAt, nextDueAt);
  }

  listDue(now: number, limit: number): Promise<CommandRecord[]> {
    return this.#read(() => commandsFromRows(this.#s.listDue.all(now, limit)));
  }

  listUndelivered(before: number, limit: number): Promise<CommandRecord[]> {
    return this.#read(() => commandsFromRows(this.#s.listUndelivered.all(before, limit)));
  }

  // ---- command batches (DESIGN 9: batches.ts) ----

  createBatch(batch: NewBatch, options?: CreateOptions): Promise<CreateBatchResult> {
    return this.#write('createBatch', batch, options, this.#now());
  }
  getBatch(userId: string, batchId: string): Promise<BatchRecord | undefined> {
    return this.#read(() => this.#batches.get(userId, batchId));
  }
  listBatches(userId: string, query: BatchQuery): Promise<BatchRecord[]> {
    return this.#read(() => this.#batches.list(userId, query));
  }
  listBatchCommands(userId: string, batchId: string, query: BatchCommandQuery): Promise<CommandRecord[]> {
    return this.#read(() => this.#batches.commands(userId, batchId, query));
  }

  // ---- history ----

  listHistory(commandId: string): Promise<HistoryEntry[]> {
    return this.#read(() => this.#s.listHistory.all(commandId));
  }
  listUserHistorySince(userId: string, afterId: number, limit: number): Promise<HistoryEntry[]> {
    return this.#read(() => this.#s.listUserHistorySince.all(userId, afterId, limit));
  }
  lastUserHistoryId(userId: string): Promise<number> {
    return this.#read(() => this.#s.lastUserHistoryId.get(userId)!.id);
  }

  // ---- postbacks ----

  claimPostbacks(now: number, limit: number, leaseMs: number): Promise<PostbackEntry[]> {
    return this.#write('claimPostbacks', now, limit, leaseMs);
  }
  recordPostbackAttempt(id: number, claimToken: string, outcome: PostbackOutcome): Promise<boolean> {
    return this.#write('recordPostbackAttempt', id, claimToken, outcome);
  }
  listPostbacks(commandId: string): Promise<PostbackEntry[]> {
    return this.#read(() => this.#s.listPostbacks.all(commandId).map(postbackEntry));
  }
  postbackDepth(): Promise<number> {
    return this.#read(() => this.#s.postbackDepth.get()!);
  }

  // ---- users ----

  ensurePostbackSecrets(userId: string, candidate: string): Promise<PostbackSecrets> {
    return this.#write('ensurePostbackSecrets', userId, candidate);
  }
  rotatePostbackSecret(userId: string, next: string, previousUntil: number): Promise<PostbackSecrets> {
    return this.#write('rotatePostbackSecret', userId, next, previousUntil);
  }

  // ---- lifecycle of the store ----

  async ping(): Promise<void> {
    await this.#read(() => this.#s.ping.get());
  }

  /** Commits every queued write, then closes the database. Later calls reject `unavailable`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#writer.close();
    this.#group.endRead();
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
      this.#writer.setAutocheckpoint(DEFAULT_AUTOCHECKPOINT_FRAMES);
    } catch {
      // the connection is unusable: writes fail on their own
    }
  }

  /** a write by name (write-ops.ts), with its arguments */
  #write<K extends WriteName>(name: K, ...args: WriteArgs<K>): Promise<WriteResult<K>> {
    if (this.#closed) return Promise.reject(closedError());
    return this.#writer.submit([name, args]) as Promise<WriteResult<K>>;
  }

  async #read<T>(read: () => T): Promise<T> {
    this.#assertOpen();
    try {
      return this.#group.read(read);
    } catch (err) {
      throw storeError(err);
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError();
  }
}
