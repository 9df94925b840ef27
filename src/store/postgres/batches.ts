import { countsFromRows, type BatchRecord } from '../../domain/batch.js';
import type { CommandRecord } from '../../domain/command.js';
import { AppiaError } from '../../domain/errors.js';
import { INITIAL_STATUS } from '../../domain/lifecycle.js';
import type { Status } from '../../domain/status.js';
import { BATCH_SQL, batchCommandsStatement, type BatchRow, type BatchStatementName } from '../batch-sql.js';
import { COMMAND_COLUMNS, DEFAULT_IDEMPOTENCY_TTL_MS, historyEntry, OPEN_COMMAND } from '../sql-shared.js';
import type { BatchCommandQuery, BatchQuery, CreateBatchResult, CreateOptions, NewBatch } from '../store.js';
import type { SqlQuery } from './client.js';
import { FEED_LOCK_SHARED, RECORD_JSON } from './feed.js';
import type { QueryRunner, Transaction } from './runner.js';
import { commandRecord, statement } from './writes.js';

/** BATCH_SQL's `?` placeholders numbered for PostgreSQL */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

const TEXT: Record<string, string> = {
  ...Object.fromEntries(Object.entries(BATCH_SQL).map(([name, sql]) => [name, numbered(sql)])),
  // Devices are locked in id order, so two batches over the same devices cannot deadlock; FOR
  // SHARE against a removal committing meanwhile, NO KEY UPDATE to count open commands (as createCommand does).
  batchDevicesShared: 'SELECT id, user_id AS "userId", removed_at AS "removedAt" FROM devices WHERE id = ANY($1::text[]) ORDER BY id FOR SHARE',
  batchDevicesLimited: 'SELECT id, user_id AS "userId", removed_at AS "removedAt" FROM devices WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE',
  batchFullDevices: `SELECT device_id AS "deviceId" FROM commands WHERE device_id = ANY($1::text[]) AND ${OPEN_COMMAND}
    GROUP BY device_id HAVING count(*) >= $2 LIMIT 1`,
  batchCountsOfMany: 'SELECT batch_id AS "batchId", status, count(*) AS "n" FROM commands WHERE batch_id = ANY($1::text[]) GROUP BY batch_id, status',
  // the commands, then (after the feed lock, taken once) their first history entries and postbacks, as insertCommand does
  insertBatchCommands: `WITH command AS (
      INSERT INTO commands (id, user_id, device_id, type, payload_json, app_service_name, package_family_name,
        permission_ticket, post_back_uri, status, created_at, last_modified_at, expires_at, attempts, last_sequence, batch_id)
      SELECT t.id, $2::text, t.device_id, $4::text, $5::text, $6::text, $7::text, $8::text, $9::text, $10::text, $11::bigint, $11::bigint, $12::bigint, 0, 1, $13::text
      FROM unnest($1::text[], $3::text[]) AS t(id, device_id)
      RETURNING ${COMMAND_COLUMNS}
    ), feed AS (
      SELECT ${FEED_LOCK_SHARED('$2::text')}
    ), entry AS (
      INSERT INTO command_history (command_id, user_id, sequence, status, at)
      SELECT id, "userId", 1, status, "createdAt" FROM command, feed
      RETURNING id, command_id
    ), postback AS (
      INSERT INTO postbacks (command_id, user_id, sequence, url, record_json, state, attempts, created_at, next_attempt_at)
      SELECT id, "userId", 1, "postBackUri", ${RECORD_JSON}, 'pending', 0, "createdAt", "createdAt"
      FROM command, feed WHERE "postBackUri" IS NOT NULL
    )
    SELECT command.*, entry.id AS "historyId" FROM command JOIN entry ON entry.command_id = command.id`,
};

function batchStatement(name: BatchStatementName | keyof typeof TEXT, values: readonly unknown[]): SqlQuery {
  return { name: `batch_${name}`, text: TEXT[name]!, values };
}

type DeviceRow = { id: string; userId: string; removedAt: number | null };
type CountRow = { batchId?: string; status: Status; n: number };

/** The PostgreSQL store's command batches (DESIGN 9). */
export class PostgresBatches {
  readonly #db: QueryRunner;
  readonly #now: () => number;

  constructor(db: QueryRunner, now: () => number) {
    this.#db = db;
    this.#now = now;
  }

  /** Store.createBatch in one transaction: the devices' row locks, the key, then every insert */
  create(batch: NewBatch, options?: CreateOptions): Promise<CreateBatchResult> {
    return this.#db.transaction(async (tx) => {
      const maxOpen = options?.maxOpen ?? 0;
      const deviceIds = batch.targets.map((t) => t.deviceId);
      const locked = await tx.query<DeviceRow>(batchStatement(maxOpen > 0 ? 'batchDevicesLimited' : 'batchDevicesShared', [deviceIds]));
      const present = new Set(locked.rows.filter((d) => d.userId === batch.userId && d.removedAt === null).map((d) => d.id));
      const targets = batch.targets.filter((t) => present.has(t.deviceId));
      const key = options?.idempotencyKey;
      const fingerprint = options?.idempotencyFingerprint ?? null;
      if (key !== undefined) {
        // DESIGN 9: Idempotency-Key as for a single create; a replay answers before any check of the devices
        const keyExpiresAt = options?.idempotencyExpiresAt ?? batch.createdAt + DEFAULT_IDEMPOTENCY_TTL_MS;
        const firstId = (targets[0] ?? batch.targets[0])?.commandId ?? batch.id;
        const claim = await tx.query(statement('claimIdempotencyKey', [batch.userId, key, firstId, keyExpiresAt, fingerprint, this.#now()]));
        if (claim.rowCount === 0) return this.#replay(tx, batch.userId, key, fingerprint);
      }
      // DESIGN 9: a device that is not the caller's makes the whole batch 404
      const missing = batch.targets.find((t) => !present.has(t.deviceId));
      if (missing && batch.requireAll) throw new AppiaError('notFound', `device ${missing.deviceId} not found`);
      if (targets.length === 0) throw new AppiaError('badRequest', 'no device to send the batch to');
      if (maxOpen > 0) {
        const [full] = (await tx.query<{ deviceId: string }>(batchStatement('batchFullDevices', [targets.map((t) => t.deviceId), maxOpen]))).rows;
        if (full) throw new AppiaError('tooManyOpen', `device ${full.deviceId} already has ${maxOpen} open commands`);
      }
      void tx.query(batchStatement('insertBatch', [batch.id, batch.userId, targets.length, batch.createdAt])).catch(() => undefined);
      const c = batch.command;
      const inserted = await tx.finish<CommandRecord & { historyId: number }>(
        batchStatement('insertBatchCommands', [
          targets.map((t) => t.commandId),
          batch.userId,
          targets.map((t) => t.deviceId),
          c.type,
          c.payloadJson,
          c.appServiceName,
          c.packageFamilyName,
          c.permissionTicket,
          c.postBackUri,
          INITIAL_STATUS,
          batch.createdAt,
          c.expiresAt,
          batch.id,
        ]),
      );
      // in the targets' order, as the SQLite store makes them
      const byId = new Map(inserted.rows.map((row) => [row.id, row]));
      const commands = targets.map(({ commandId }) => {
        const row = byId.get(commandId)!;
        return { command: commandRecord(row), history: historyEntry(row.historyId, row.id, 1, row.status, row.createdAt, null) };
      });
      return {
        batch: { id: batch.id, userId: batch.userId, total: targets.length, createdAt: batch.createdAt, counts: { [INITIAL_STATUS]: targets.length } },
        commands,
        created: true,
      };
    });
  }

  async #replay(tx: Transaction, userId: string, key: string, fingerprint: string | null): Promise<CreateBatchResult> {
    const [first] = (await tx.query<CommandRecord & { fingerprint: string | null }>(statement('idempotentCommand', [userId, key]))).rows;
    if (first === undefined) throw new AppiaError('internal', 'an idempotency key without its command');
    if (first.fingerprint !== fingerprint || first.batchId === null) {
      throw new AppiaError('idempotencyMismatch', `the Idempotency-Key ${JSON.stringify(key)} was already used for another request`);
    }
    const [row] = (await tx.query<BatchRow>(batchStatement('getBatch', [first.batchId, userId]))).rows;
    const counts = (await tx.query<CountRow>(batchStatement('batchCounts', [first.batchId]))).rows;
    return { batch: { ...row!, counts: countsFromRows(counts) }, commands: [], created: false };
  }

  async get(userId: string, batchId: string): Promise<BatchRecord | undefined> {
    const [row] = await this.#db.rows<BatchRow>(batchStatement('getBatch', [batchId, userId]));
    if (row === undefined) return undefined;
    return { ...row, counts: countsFromRows(await this.#db.rows<CountRow>(batchStatement('batchCounts', [batchId]))) };
  }

  async list(userId: string, query: BatchQuery): Promise<BatchRecord[]> {
    const rows = await this.#db.rows<BatchRow>(batchStatement('listBatches', [userId, query.beforeId ?? '~', query.limit]));
    if (rows.length === 0) return [];
    const counts = await this.#db.rows<CountRow>(batchStatement('batchCountsOfMany', [rows.map((r) => r.id)]));
    return rows.map((row) => ({ ...row, counts: countsFromRows(counts.filter((c) => c.batchId === row.id)) }));
  }

  commands(userId: string, batchId: string, query: BatchCommandQuery): Promise<CommandRecord[]> {
    const { name, rest } = batchCommandsStatement(query);
    return this.#db.rows<CommandRecord>(batchStatement(name, [batchId, userId, query.afterId ?? '', ...rest]));
  }
}
