import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import { applyChange } from '../../domain/change.js';
import type { CommandRecord } from '../../domain/command.js';
import type { DeviceRecord } from '../../domain/device.js';
import { AppiaError } from '../../domain/errors.js';
import { chainConnectionHolds, DEFAULT_IDEMPOTENCY_TTL_MS, historyEntry, newCommandRecord, newDeviceRecord, NEW_DEVICE_STATUS, postbackEntry, REFUSED_CHAIN } from '../sql-shared.js';
import type {
  ChainResult,
  CreateDeviceOptions,
  CreateOptions,
  CreateResult,
  NewCommand,
  NewDevice,
  PostbackEntry,
  PostbackOutcome,
  StatusChange,
  TransitionResult,
} from '../store.js';
import { tooManyDevices } from '../store.js';
import {
  CHANGE_LAST_SEQUENCE,
  CHANGE_ROWID,
  IDEMPOTENT_FINGERPRINT,
  SET_ATTEMPTS,
  SET_CUSTOM_STATUS,
  SET_DUE_AT,
  SET_ERROR,
  SET_RESPONSE,
  type Statements,
  TRANSITION_FIELDS,
  commandFromRow,
  transitionSql,
} from './statements.js';

/** A command's row as a write of this transaction left it: the record, its rowid and the sequence of its latest history entry. */
interface KnownRow {
  readonly command: CommandRecord;
  readonly rowid: number;
  readonly sequence: number;
}

/** a change as applied, with the rowid of its command (the rest of its KnownRow is the result itself) */
type AppliedChange = TransitionResult & { readonly rowid: number };

/**
 * The SQLite store's writes, each run inside a GroupCommit batch (one
 * transaction, one connection, one thread: nothing comes between a read and
 * the write after it). Writes must be repeatable: a batch may run again.
 */
export class SqliteWrites {
  readonly #db: Database.Database;
  readonly #s: Statements;
  /** the status-change UPDATE for each set of changed fields (a TRANSITION_FIELDS mask), prepared when first needed */
  readonly #transitionStatements: (Database.Statement | undefined)[] = new Array(1 << TRANSITION_FIELDS.length);

  constructor(db: Database.Database, statements: Statements) {
    this.#db = db;
    this.#s = statements;
  }

  /** the connection's prepared statements, for the one-statement writes (write-ops.ts) */
  get s(): Statements {
    return this.#s;
  }

  /** the connection, for writes kept in files of their own (batches.ts) */
  get db(): Database.Database {
    return this.#db;
  }

  insertDevice(device: NewDevice, options: CreateDeviceOptions | undefined): DeviceRecord {
    // a user row exists for every owner, so devices can reference it
    this.#s.ensureUser.run(device.userId);
    // DESIGN 8: counted in this transaction, so racing registrations never pass the limit
    const maxDevices = options?.maxDevices ?? 0;
    if (maxDevices > 0 && this.#s.countDevices.get(device.userId)! >= maxDevices) throw tooManyDevices(maxDevices);
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

  /** `now`: the store's clock when the create was submitted (an idempotency key's expiry) */
  insertCommand(command: NewCommand, options: CreateOptions | undefined, now: number): CreateResult {
    const key = options?.idempotencyKey;
    if (key !== undefined) {
      // DESIGN 2: a retried create with the same key returns the first command
      const first = this.#s.findIdempotent.get(command.userId, key, now);
      if (first !== undefined) {
        // DESIGN 2: a key is bound to its first request (device and body)
        const fingerprint = options?.idempotencyFingerprint ?? null;
        if (first[IDEMPOTENT_FINGERPRINT] !== fingerprint) {
          throw new AppiaError('idempotencyMismatch', `the Idempotency-Key ${JSON.stringify(key)} was already used for another request`);
        }
        return { command: commandFromRow(first), created: false };
      }
    }
    const owner = this.#s.deviceOwner.get(command.deviceId);
    if (owner === undefined || owner.userId !== command.userId || owner.removedAt !== null) {
      throw new AppiaError('notFound', `device ${command.deviceId} not found`);
    }
    const maxOpen = options?.maxOpen ?? 0;
    if (maxOpen > 0 && this.#s.countOpen.get(command.deviceId)! >= maxOpen) {
      throw new AppiaError('tooManyOpen', `device ${command.deviceId} already has ${maxOpen} open commands`);
    }
    const record = newCommandRecord(command);
    const rowid = this.#s.insertCommand.run(
      command.id,
      command.userId,
      command.deviceId,
      command.type,
      command.payloadJson,
      command.appServiceName,
      command.packageFamilyName,
      command.permissionTicket,
      command.postBackUri,
      record.status,
      command.createdAt,
      command.createdAt,
      command.expiresAt,
    ).lastInsertRowid as number;
    const historyId = this.#s.insertHistory.run(command.id, command.userId, 1, record.status, command.createdAt, null)
      .lastInsertRowid as number;
    this.#queuePostback(record, 1);
    if (key !== undefined) {
      const keyExpiresAt = options?.idempotencyExpiresAt ?? command.createdAt + DEFAULT_IDEMPOTENCY_TTL_MS;
      this.#s.putIdempotencyKey.run(command.userId, key, command.id, keyExpiresAt, options?.idempotencyFingerprint ?? null);
    }
    const created = { command: record, history: historyEntry(historyId, command.id, 1, record.status, command.createdAt, null), created: true };
    if (options?.chain === undefined) return created;
    if (!chainConnectionHolds(options, owner.connectionId)) return { ...created, chain: REFUSED_CHAIN };
    return { ...created, chain: this.transitionChain(options.chain, { command: record, rowid, sequence: 1 }) };
  }

  /**
   * One compare-and-set. `known`: the row as this write left it a moment
   * ago (it inserted or changed it), so it need not be read again; in the
   * batch's transaction nothing can come between (one connection, one thread).
   */
  #applyTransition(change: StatusChange, known: KnownRow | undefined): AppliedChange | undefined {
    let before: CommandRecord;
    let rowid: number;
    let sequence: number;
    if (known !== undefined && known.command.id === change.commandId) {
      ({ command: before, rowid } = known);
      sequence = known.sequence + 1;
    } else {
      // Read, then write: cheaper than UPDATE ... RETURNING every column,
      // and the row read tells which fields really change.
      const row = this.#s.commandForChange.get(change.commandId);
      if (row === undefined) return undefined;
      before = commandFromRow(row);
      rowid = row[CHANGE_ROWID];
      sequence = row[CHANGE_LAST_SEQUENCE] + 1;
    }
    // DESIGN 3: the status moved on; the caller re-reads and re-decides
    if (before.status !== change.from) return undefined;
    const command = applyChange(before, change);
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
    values.push(rowid, change.from);
    const update = (this.#transitionStatements[mask] ??= this.#db.prepare(transitionSql(mask)));
    if (update.run(...values).changes !== 1) {
      throw new AppiaError('internal', `command ${change.commandId} changed between its read and its write`);
    }
    const detail = change.detail ?? null;
    const historyId = this.#s.insertHistory.run(command.id, command.userId, sequence, change.to, change.at, detail)
      .lastInsertRowid as number;
    this.#queuePostback(command, sequence);
    return { command, history: historyEntry(historyId, command.id, sequence, change.to, change.at, detail), rowid };
  }

  /** DESIGN 6: the change's postback, in the transaction of the change itself */
  #queuePostback(command: CommandRecord, sequence: number): void {
    if (command.postBackUri === null) return;
    const at = command.lastModifiedAt;
    this.#s.insertPostback.run(command.id, command.userId, sequence, command.postBackUri, JSON.stringify(command), at, at);
  }

  /**
   * Store.transitionChain: a prefix of the chain, in one transaction (the
   * batch's). A change of the command the change before it changed (received
   * then completed) starts from that one's outcome, without reading the row.
   */
  transitionChain(changes: readonly StatusChange[], known?: KnownRow): ChainResult {
    const applied: TransitionResult[] = [];
    let last = known;
    for (let i = 0; i < changes.length; i++) {
      const result = this.#applyTransition(changes[i]!, last);
      if (result === undefined) return { applied, refusedAt: i };
      const { command, history, rowid } = result;
      applied.push({ command, history });
      last = { command, rowid, sequence: history.sequence };
    }
    return { applied };
  }

  claimPostbacks(now: number, limit: number, leaseMs: number): PostbackEntry[] {
    return this.#s.duePostbacks.all(now, now, limit).map((row) => {
      const claimToken = randomBytes(12).toString('base64url');
      this.#s.leasePostback.run(now + leaseMs, claimToken, row.id);
      return { ...postbackEntry(row), claimToken };
    });
  }

  recordPostbackAttempt(id: number, claimToken: string, outcome: PostbackOutcome): boolean {
    const delivered = outcome.state === 'delivered';
    const recorded = this.#s.recordPostbackAttempt.get(
      outcome.state,
      outcome.at,
      outcome.at,
      outcome.responseStatus,
      delivered ? null : outcome.error,
      outcome.state === 'pending' ? outcome.nextAttemptAt : null,
      delivered ? outcome.at : null,
      id,
      claimToken,
    );
    if (recorded === undefined) return false;
    if (outcome.state === 'failed') this.#s.noteInHistory.run(outcome.historyNote, outcome.historyNote, recorded.commandId, recorded.sequence);
    return true;
  }
}
