import type Database from 'better-sqlite3';
import { countsFromRows, type BatchRecord } from '../../domain/batch.js';
import type { CommandRecord } from '../../domain/command.js';
import { AppiaError } from '../../domain/errors.js';
import { INITIAL_STATUS } from '../../domain/lifecycle.js';
import type { Status } from '../../domain/status.js';
import { BATCH_SQL, batchCommandsStatement, type BatchRow, type BatchStatementName } from '../batch-sql.js';
import { DEFAULT_IDEMPOTENCY_TTL_MS, historyEntry, newCommandRecord } from '../sql-shared.js';
import type { BatchCommandQuery, BatchQuery, CreateBatchResult, CreateOptions, NewBatch, TransitionResult } from '../store.js';
import { commandFromRow, commandsFromRows, IDEMPOTENT_FINGERPRINT, type CommandRow } from './statements.js';
import type { SqliteWrites } from './writes.js';

/** a batch's command: createCommand's insert, with its batch */
const INSERT_BATCH_COMMAND = `INSERT INTO commands (id, user_id, device_id, type, payload_json, app_service_name, package_family_name,
    permission_ticket, post_back_uri, status, created_at, last_modified_at, expires_at, attempts, last_sequence, batch_id)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 1, ?)`;

type BatchStatements = Record<BatchStatementName | 'insertBatchCommand', Database.Statement>;

const prepared = new WeakMap<Database.Database, BatchStatements>();

/** BATCH_SQL prepared once per connection (the reading one and the writer's) */
function statements(db: Database.Database): BatchStatements {
  let s = prepared.get(db);
  if (s === undefined) {
    const all = { ...BATCH_SQL, insertBatchCommand: INSERT_BATCH_COMMAND };
    s = Object.fromEntries(Object.entries(all).map(([name, sql]) => [name, db.prepare(sql)])) as BatchStatements;
    for (const name of ['listBatchCommands', 'listBatchCommandsByStatus', 'listOpenBatchCommands'] as const) s[name].raw();
    prepared.set(db, s);
  }
  return s;
}

function batchOf(s: BatchStatements, row: BatchRow | undefined): BatchRecord | undefined {
  if (row === undefined) return undefined;
  return { ...row, counts: countsFromRows(s.batchCounts.all(row.id) as { status: Status; n: number }[]) };
}

/** The batch reads, on the store's reading connection (run inside its read transaction). */
export class SqliteBatchReads {
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  get(userId: string, batchId: string): BatchRecord | undefined {
    const s = statements(this.#db);
    return batchOf(s, s.getBatch.get(batchId, userId) as BatchRow | undefined);
  }

  list(userId: string, query: BatchQuery): BatchRecord[] {
    const s = statements(this.#db);
    return (s.listBatches.all(userId, query.beforeId ?? '~', query.limit) as BatchRow[]).map((row) => batchOf(s, row)!);
  }

  commands(userId: string, batchId: string, query: BatchCommandQuery): CommandRecord[] {
    const { name, rest } = batchCommandsStatement(query);
    return commandsFromRows(statements(this.#db)[name].all(batchId, userId, query.afterId ?? '', ...rest) as CommandRow[]);
  }
}

/**
 * Store.createBatch, inside a GroupCommit batch (one transaction): checks
 * every target first, then writes the batch, its commands, their history
 * entries and postbacks. `now`: the store's clock when it was submitted.
 */
export function createBatch(w: SqliteWrites, batch: NewBatch, options: CreateOptions | undefined, now: number): CreateBatchResult {
  const s = statements(w.db);
  const key = options?.idempotencyKey;
  const fingerprint = options?.idempotencyFingerprint ?? null;
  if (key !== undefined) {
    // DESIGN 9: Idempotency-Key works as for a single create (one namespace of keys per user)
    const first = w.s.findIdempotent.get(batch.userId, key, now);
    if (first !== undefined) {
      const batchId = commandFromRow(first).batchId;
      if (first[IDEMPOTENT_FINGERPRINT] !== fingerprint || batchId === null) {
        throw new AppiaError('idempotencyMismatch', `the Idempotency-Key ${JSON.stringify(key)} was already used for another request`);
      }
      return { batch: batchOf(s, s.getBatch.get(batchId, batch.userId) as BatchRow)!, commands: [], created: false };
    }
  }
  const maxOpen = options?.maxOpen ?? 0;
  const targets = batch.targets.filter((target) => {
    const owner = w.s.deviceOwner.get(target.deviceId);
    const present = owner !== undefined && owner.userId === batch.userId && owner.removedAt === null;
    // DESIGN 9: a device that is not the caller's makes the whole batch 404
    if (!present && batch.requireAll) throw new AppiaError('notFound', `device ${target.deviceId} not found`);
    if (present && maxOpen > 0 && w.s.countOpen.get(target.deviceId)! >= maxOpen) {
      throw new AppiaError('tooManyOpen', `device ${target.deviceId} already has ${maxOpen} open commands`);
    }
    return present;
  });
  if (targets.length === 0) throw new AppiaError('badRequest', 'no device to send the batch to');
  s.insertBatch.run(batch.id, batch.userId, targets.length, batch.createdAt);
  const c = batch.command;
  const commands: TransitionResult[] = [];
  for (const target of targets) {
    const record = newCommandRecord({ ...c, id: target.commandId, userId: batch.userId, deviceId: target.deviceId, createdAt: batch.createdAt, batchId: batch.id });
    s.insertBatchCommand.run(
      record.id,
      record.userId,
      record.deviceId,
      record.type,
      record.payloadJson,
      record.appServiceName,
      record.packageFamilyName,
      record.permissionTicket,
      record.postBackUri,
      record.status,
      record.createdAt,
      record.createdAt,
      record.expiresAt,
      batch.id,
    );
    const historyId = w.s.insertHistory.run(record.id, record.userId, 1, record.status, record.createdAt, null).lastInsertRowid as number;
    // DESIGN 6: the first postback, in the transaction of the create
    if (record.postBackUri !== null) w.s.insertPostback.run(record.id, record.userId, 1, record.postBackUri, JSON.stringify(record), record.createdAt, record.createdAt);
    commands.push({ command: record, history: historyEntry(historyId, record.id, 1, record.status, record.createdAt, null) });
  }
  if (key !== undefined) {
    const keyExpiresAt = options?.idempotencyExpiresAt ?? batch.createdAt + DEFAULT_IDEMPOTENCY_TTL_MS;
    w.s.putIdempotencyKey.run(batch.userId, key, targets[0]!.commandId, keyExpiresAt, fingerprint);
  }
  return { batch: { id: batch.id, userId: batch.userId, total: targets.length, createdAt: batch.createdAt, counts: { [INITIAL_STATUS]: targets.length } }, commands, created: true };
}
