import { COMMAND_COLUMNS, OPEN_COMMAND } from './sql-shared.js';

/**
 * The SQL of command batches (DESIGN 9) that both SQL adapters run, with `?`
 * placeholders (the PostgreSQL adapter numbers them: postgres/batches.ts).
 * A batch row holds what never changes; its counts are read from its
 * commands (the partial index commands_by_batch), so the status-change path
 * writes nothing more for a batch command than for any other.
 */
const BATCH_COLUMNS = 'id, user_id AS "userId", total, created_at AS "createdAt"';

export const BATCH_SQL = {
  insertBatch: 'INSERT INTO command_batches (id, user_id, total, created_at) VALUES (?, ?, ?, ?)',
  getBatch: `SELECT ${BATCH_COLUMNS} FROM command_batches WHERE id = ? AND user_id = ?`,
  // '~' sorts after every upper-case hex id: "no beforeId" needs no second statement
  listBatches: `SELECT ${BATCH_COLUMNS} FROM command_batches WHERE user_id = ? AND id < ? ORDER BY id DESC LIMIT ?`,
  batchCounts: 'SELECT status, count(*) AS "n" FROM commands WHERE batch_id = ? GROUP BY status',
  // '' sorts before every id: "no afterId" likewise
  listBatchCommands: `SELECT ${COMMAND_COLUMNS} FROM commands WHERE batch_id = ? AND user_id = ? AND id > ? ORDER BY id LIMIT ?`,
  listBatchCommandsByStatus: `SELECT ${COMMAND_COLUMNS} FROM commands
    WHERE batch_id = ? AND user_id = ? AND id > ? AND status = ? ORDER BY id LIMIT ?`,
  listOpenBatchCommands: `SELECT ${COMMAND_COLUMNS} FROM commands
    WHERE batch_id = ? AND user_id = ? AND id > ? AND ${OPEN_COMMAND} ORDER BY id LIMIT ?`,
} as const;

export type BatchStatementName = keyof typeof BATCH_SQL;

/** a batch row as BATCH_COLUMNS selects it */
export interface BatchRow {
  readonly id: string;
  readonly userId: string;
  readonly total: number;
  readonly createdAt: number;
}

/** which listing statement a BatchCommandQuery reads, and its parameters after (batch, user, afterId) */
export function batchCommandsStatement(query: { status?: string; open?: boolean; limit: number }): {
  name: 'listBatchCommands' | 'listBatchCommandsByStatus' | 'listOpenBatchCommands';
  rest: (string | number)[];
} {
  if (query.status !== undefined) return { name: 'listBatchCommandsByStatus', rest: [query.status, query.limit] };
  return { name: query.open ? 'listOpenBatchCommands' : 'listBatchCommands', rest: [query.limit] };
}
