import type { CommandRecord } from '../../domain/command.js';
import type { StatusChange } from '../store.js';
import {
  CHANGE_FIELDS,
  COMMAND_COLUMNS,
  DEVICE_COLUMNS,
  HISTORY_COLUMNS,
  OPEN_COMMAND,
  PRESENT_DEVICE,
} from '../sql-shared.js';

/**
 * Every statement the PostgreSQL store runs. Each is sent as a named query,
 * so a connection parses and plans it once (SQL keys are the names).
 *
 * The history feed (DESIGN 2: SSE resumes after an event id) must never skip
 * an entry, but identity values are handed out when a row is inserted, not
 * when it commits: a transaction holding id 10 may commit after one holding
 * 11. So every transaction that writes history takes a shared advisory lock
 * on its user's feed (FEED_LOCK) before it draws an id, and holds it to its
 * end; a reader of the feed takes the same lock exclusively before its
 * snapshot. The reader thus waits for exactly the writers that already drew
 * ids, and every later writer draws a higher id than any it sees: the feed
 * it returns has no hole that could later fill. Writers of one user share the
 * lock and never wait for each other. A writer takes it after its row locks,
 * so holding it never waits on anything but its own commit.
 */
const FEED_KEY = (userId: string) => `hashtextextended('appia feed ' || current_schema() || ' ' || ${userId}, 0)`;

export const SQL = {
  // ---- users ----
  ensureUser: 'INSERT INTO users (id) VALUES ($1) ON CONFLICT (id) DO NOTHING',
  ensurePostbackSecret: `INSERT INTO users (id, postback_secret) VALUES ($1, $2)
    ON CONFLICT (id) DO UPDATE SET postback_secret = coalesce(users.postback_secret, excluded.postback_secret)
    RETURNING postback_secret AS "secret"`,

  // ---- devices ----
  insertDevice: `INSERT INTO devices (id, user_id, name, kind, platform, model, manufacturer, status, token_hash, created_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
  getDevice: `SELECT ${DEVICE_COLUMNS} FROM devices WHERE id = $1 AND user_id = $2 AND removed_at IS NULL`,
  findDeviceByTokenHash: `SELECT ${DEVICE_COLUMNS} FROM devices WHERE token_hash = $1 AND removed_at IS NULL`,
  listDevices: `SELECT ${DEVICE_COLUMNS} FROM devices WHERE user_id = $1 AND removed_at IS NULL
    ORDER BY created_at, id LIMIT $2 OFFSET $3`,
  setDevicePresence: 'UPDATE devices SET status = $1, last_seen_at = $2 WHERE id = $3 AND removed_at IS NULL',
  removeDevice: `UPDATE devices SET removed_at = $1, token_hash = NULL, status = 'Offline'
    WHERE id = $2 AND user_id = $3 AND removed_at IS NULL`,
  // A create locks its device's row: against a removal committing between
  // the check and the insert, and (exclusively, with a limit) against other
  // creates counting the same open commands. NO KEY UPDATE rather than
  // UPDATE: other transactions' foreign-key checks on the row still pass.
  deviceForCreate: 'SELECT user_id AS "userId", removed_at AS "removedAt" FROM devices WHERE id = $1 FOR SHARE',
  deviceForLimitedCreate: 'SELECT user_id AS "userId", removed_at AS "removedAt" FROM devices WHERE id = $1 FOR NO KEY UPDATE',

  // ---- commands ----
  // the command, then (after the feed lock) its `requesting` entry; returns the entry's id
  insertCommand: `WITH command AS (
      INSERT INTO commands (id, user_id, device_id, type, payload_json, app_service_name, package_family_name,
        permission_ticket, post_back_uri, status, created_at, last_modified_at, expires_at, attempts, last_sequence)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'requesting', $10, $10, $11, 0, 1)
      RETURNING id, user_id, created_at
    ), feed AS (
      SELECT pg_advisory_xact_lock_shared(${FEED_KEY('user_id')}) FROM command
    ), entry AS (
      INSERT INTO command_history (command_id, user_id, sequence, status, at)
      SELECT id, user_id, 1, 'requesting', created_at FROM command, feed
      RETURNING id
    )
    SELECT id FROM entry`,
  countOpen: `SELECT count(*) AS "open" FROM commands WHERE device_id = $1 AND ${OPEN_COMMAND}`,
  getCommand: `SELECT ${COMMAND_COLUMNS} FROM commands WHERE id = $1 AND user_id = $2 AND device_id = $3`,
  getCommandById: `SELECT ${COMMAND_COLUMNS} FROM commands WHERE id = $1`,
  // '~' sorts after every upper-case hex id (COLLATE "C"), so "no beforeId" needs no second statement
  listCommands: `SELECT ${COMMAND_COLUMNS} FROM commands
    WHERE user_id = $1 AND device_id = $2 AND id < $3 ORDER BY id DESC LIMIT $4`,
  listCommandsByStatus: `SELECT ${COMMAND_COLUMNS} FROM commands
    WHERE user_id = $1 AND device_id = $2 AND id < $3 AND status = $4 ORDER BY id DESC LIMIT $5`,
  listOpenCommands: `SELECT ${COMMAND_COLUMNS} FROM commands WHERE device_id = $1 AND ${OPEN_COMMAND} ORDER BY id`,
  // PostgreSQL re-checks the WHERE on the row a racing claim left, so exactly one claim matches
  claimTimer: 'UPDATE commands SET due_at = $1 WHERE id = $2 AND status = $3 AND due_at = $4',
  listDue: `SELECT ${COMMAND_COLUMNS} FROM commands WHERE ${OPEN_COMMAND} AND wake_at <= $1 ORDER BY wake_at, id LIMIT $2`,
  listUndelivered: `SELECT ${COMMAND_COLUMNS} FROM commands
    WHERE device_id IN (SELECT id FROM devices WHERE ${PRESENT_DEVICE})
      AND ${OPEN_COMMAND} AND status IN ('requesting', 'retry') AND due_at IS NULL AND last_modified_at <= $1
    LIMIT $2`,

  // ---- history ----
  listHistory: `SELECT ${HISTORY_COLUMNS} FROM command_history WHERE command_id = $1 ORDER BY sequence`,
  /** before listUserHistorySince, in its transaction: waits out the writers that drew ids (see FEED_KEY) */
  lockFeed: `SELECT pg_advisory_xact_lock(${FEED_KEY('$1')})`,
  listUserHistorySince: `SELECT ${HISTORY_COLUMNS} FROM command_history WHERE user_id = $1 AND id > $2
    ORDER BY id LIMIT $3`,

  // ---- idempotency ----
  // Claims the key, or takes over an expired one; returns no row when another
  // create holds it. Racing claims wait on the key's index entry, so the
  // second sees the first's outcome: committed (its key, no row) or rolled
  // back (the claim is free again).
  claimIdempotencyKey: `INSERT INTO idempotency_keys (user_id, key, command_id, expires_at) VALUES ($1, $2, $3, $4)
    ON CONFLICT (user_id, key) DO UPDATE SET command_id = excluded.command_id, expires_at = excluded.expires_at
      WHERE idempotency_keys.expires_at <= $5
    RETURNING 1 AS "claimed"`,
  idempotentCommand: `SELECT ${COMMAND_COLUMNS} FROM commands
    WHERE id = (SELECT command_id FROM idempotency_keys WHERE user_id = $1 AND key = $2)`,

  ping: 'SELECT 1',
} as const;

export type StatementName = keyof typeof SQL;

export type DeviceOwner = { readonly userId: string; readonly removedAt: number | null };

/** a transition's row: the command after the change, its new history sequence and entry id */
export type TransitionRow = CommandRecord & { readonly sequence: number; readonly historyId: number };

/** which of CHANGE_FIELDS a change sets, as a bit mask (bit i: CHANGE_FIELDS[i]) */
export function changeMask(change: StatusChange): number {
  let mask = 0;
  CHANGE_FIELDS.forEach(([field], bit) => {
    if (change[field] !== undefined) mask |= 1 << bit;
  });
  return mask;
}

/** the parameters of transitionSql(changeMask(change)), in its order */
export function transitionValues(change: StatusChange): unknown[] {
  const values: unknown[] = [change.commandId, change.to, change.at, change.from, change.detail ?? null];
  for (const [field] of CHANGE_FIELDS) if (change[field] !== undefined) values.push(change[field]);
  return values;
}

/**
 * One compare-and-set status change as one statement: the UPDATE applies
 * only while the status is still `from` (a racing change that committed
 * first makes PostgreSQL re-check it and find no row), then the feed lock and
 * the history entry. No row back: the command moved on, or is not there.
 * Parameters: id, to, at, from, detail, then one per field of `mask`.
 */
export function transitionSql(mask: number): string {
  let set = 'status = $2, last_modified_at = $3, last_sequence = last_sequence + 1';
  let next = 6;
  CHANGE_FIELDS.forEach(([, column], bit) => {
    if (mask & (1 << bit)) set += `, ${column} = $${next++}`;
  });
  return `WITH changed AS (
      UPDATE commands SET ${set} WHERE id = $1 AND status = $4
      RETURNING ${COMMAND_COLUMNS}, last_sequence AS "sequence"
    ), feed AS (
      SELECT pg_advisory_xact_lock_shared(${FEED_KEY('"userId"')}) FROM changed
    ), entry AS (
      INSERT INTO command_history (command_id, user_id, sequence, status, at, detail)
      SELECT id, "userId", "sequence", status, "lastModifiedAt", $5::text FROM changed, feed
      RETURNING id
    )
    SELECT changed.*, entry.id AS "historyId" FROM changed, entry`;
}
