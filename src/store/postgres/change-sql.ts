import { CHANGE_FIELDS, COMMAND_COLUMNS } from '../sql-shared.js';
import type { StatusChange } from '../store.js';
import type { CommandRecord } from '../../domain/command.js';
import { FEED_LOCK_SHARED, RECORD_JSON } from './feed.js';

/** a change's row: the command after the change, its new history sequence and entry id */
export type ChangedRow = CommandRecord & { readonly sequence: number; readonly historyId: number };

/** which of CHANGE_FIELDS a change sets, as a bit mask (bit i: CHANGE_FIELDS[i]) */
export function changeMask(change: StatusChange): number {
  let mask = 0;
  CHANGE_FIELDS.forEach(([field], bit) => {
    if (change[field] !== undefined) mask |= 1 << bit;
  });
  return mask;
}

/** the parameters of changeSql(changeMask(change)), in its order */
export function changeValues(change: StatusChange): unknown[] {
  const values: unknown[] = [change.commandId, change.to, change.at, change.from, change.detail ?? null];
  for (const [field] of CHANGE_FIELDS) if (change[field] !== undefined) values.push(change[field]);
  return values;
}

/**
 * One compare-and-set status change as one statement (DESIGN 3): the UPDATE
 * applies only while the status is still `from` (a racing change that
 * committed first makes PostgreSQL re-check it and find no row), then the
 * feed lock (feed.ts), the history entry and, with a postBackUri, the
 * postback (DESIGN 6), all from the updated row. No row back: the command
 * moved on, or is not there. Parameters: id, to, at, from, detail, then one
 * per field of `mask` in CHANGE_FIELDS order.
 */
export function changeSql(mask: number): string {
  let set = 'status = $2, last_modified_at = $3, last_sequence = last_sequence + 1';
  let next = 6;
  CHANGE_FIELDS.forEach(([, column], bit) => {
    if (mask & (1 << bit)) set += `, ${column} = $${next++}`;
  });
  return `WITH changed AS (
      UPDATE commands SET ${set} WHERE id = $1 AND status = $4
      RETURNING ${COMMAND_COLUMNS}, last_sequence AS "sequence"
    ), feed AS (
      SELECT ${FEED_LOCK_SHARED('"userId"')} FROM changed
    ), entry AS (
      INSERT INTO command_history (command_id, user_id, sequence, status, at, detail)
      SELECT id, "userId", "sequence", status, "lastModifiedAt", $5::text FROM changed, feed
      RETURNING id
    ), postback AS (
      INSERT INTO postbacks (command_id, user_id, sequence, url, record_json, state, attempts, created_at, next_attempt_at)
      SELECT id, "userId", "sequence", "postBackUri", ${RECORD_JSON}, 'pending', 0, "lastModifiedAt", "lastModifiedAt"
      FROM changed, feed WHERE "postBackUri" IS NOT NULL
    )
    SELECT changed.*, entry.id AS "historyId" FROM changed, entry`;
}
