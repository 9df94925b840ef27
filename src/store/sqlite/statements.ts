import type Database from 'better-sqlite3';
import type { CommandRecord, HistoryEntry } from '../../domain/command.js';
import type { DeviceRecord } from '../../domain/device.js';
import { COMMAND_COLUMNS, DEVICE_COLUMNS, HISTORY_COLUMNS, OPEN_COMMAND, PRESENT_DEVICE } from '../sql-shared.js';

/**
 * Every statement the SQLite store runs, as text (so a test can check each
 * query's plan) and prepared once per connection by `prepareStatements`.
 */
export const SQL = {
  // ---- users ----
  ensureUser: 'INSERT INTO users (id) VALUES (?) ON CONFLICT (id) DO NOTHING',
  ensurePostbackSecret: `INSERT INTO users (id, postback_secret) VALUES (?, ?)
    ON CONFLICT (id) DO UPDATE SET postback_secret = coalesce(users.postback_secret, excluded.postback_secret)
    RETURNING postback_secret`,

  // ---- devices ----
  insertDevice: `INSERT INTO devices (id, user_id, name, kind, platform, model, manufacturer, status, token_hash, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  getDevice: `SELECT ${DEVICE_COLUMNS} FROM devices WHERE id = ? AND user_id = ? AND removed_at IS NULL`,
  findDeviceByTokenHash: `SELECT ${DEVICE_COLUMNS} FROM devices WHERE token_hash = ? AND removed_at IS NULL`,
  listDevices: `SELECT ${DEVICE_COLUMNS} FROM devices WHERE user_id = ? AND removed_at IS NULL
    ORDER BY created_at, rowid LIMIT ? OFFSET ?`,
  setDevicePresence: 'UPDATE devices SET status = ?, last_seen_at = ? WHERE id = ? AND removed_at IS NULL',
  removeDevice: `UPDATE devices SET removed_at = ?, token_hash = NULL, status = 'Offline'
    WHERE id = ? AND user_id = ? AND removed_at IS NULL`,
  deviceOwner: 'SELECT user_id AS "userId", removed_at AS "removedAt" FROM devices WHERE id = ?',

  // ---- commands ----
  insertCommand: `INSERT INTO commands (id, user_id, device_id, type, payload_json, app_service_name, package_family_name,
      permission_ticket, post_back_uri, status, created_at, last_modified_at, expires_at, attempts, last_sequence)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'requesting', ?, ?, ?, 0, 1)`,
  countOpen: `SELECT count(*) FROM commands WHERE device_id = ? AND ${OPEN_COMMAND}`,
  getCommand: `SELECT ${COMMAND_COLUMNS} FROM commands WHERE id = ? AND user_id = ? AND device_id = ?`,
  getCommandById: `SELECT ${COMMAND_COLUMNS} FROM commands WHERE id = ?`,
  // '~' sorts after every upper-case hex id, so "no beforeId" needs no second statement
  listCommands: `SELECT ${COMMAND_COLUMNS} FROM commands
    WHERE user_id = ? AND device_id = ? AND id < ? ORDER BY id DESC LIMIT ?`,
  listCommandsByStatus: `SELECT ${COMMAND_COLUMNS} FROM commands
    WHERE user_id = ? AND device_id = ? AND id < ? AND status = ? ORDER BY id DESC LIMIT ?`,
  listOpenCommands: `SELECT ${COMMAND_COLUMNS} FROM commands WHERE device_id = ? AND ${OPEN_COMMAND} ORDER BY id`,
  // The compare-and-set (DESIGN 3). A flag per optional field: 0 leaves it as it is.
  transitionCommand: `UPDATE commands SET
      status = @to,
      last_modified_at = @at,
      last_sequence = last_sequence + 1,
      error = CASE WHEN @setError THEN @error ELSE error END,
      response_payload_json = CASE WHEN @setResponse THEN @responsePayloadJson ELSE response_payload_json END,
      custom_status = CASE WHEN @setCustomStatus THEN @customStatus ELSE custom_status END,
      attempts = CASE WHEN @setAttempts THEN @attempts ELSE attempts END,
      due_at = CASE WHEN @setDueAt THEN @dueAt ELSE due_at END
    WHERE id = @id AND status = @from
    RETURNING ${COMMAND_COLUMNS}, last_sequence AS "sequence"`,
  claimTimer: 'UPDATE commands SET due_at = ? WHERE id = ? AND status = ? AND due_at = ?',
  // soonest first; ties in index (insertion) order, so a backlog is never sorted whole
  listDue: `SELECT ${COMMAND_COLUMNS} FROM commands WHERE ${OPEN_COMMAND} AND wake_at <= ? ORDER BY wake_at LIMIT ?`,
  // devices_present drives it: only present devices' open commands are looked at
  listUndelivered: `SELECT ${COMMAND_COLUMNS} FROM commands
    WHERE device_id IN (SELECT id FROM devices WHERE ${PRESENT_DEVICE})
      AND ${OPEN_COMMAND} AND status IN ('requesting', 'retry') AND due_at IS NULL AND last_modified_at <= ?
    LIMIT ?`,

  // ---- history ----
  insertHistory: 'INSERT INTO command_history (command_id, user_id, sequence, status, at, detail) VALUES (?, ?, ?, ?, ?, ?)',
  listHistory: `SELECT ${HISTORY_COLUMNS} FROM command_history WHERE command_id = ? ORDER BY sequence`,
  listUserHistorySince: `SELECT ${HISTORY_COLUMNS} FROM command_history WHERE user_id = ? AND id > ?
    ORDER BY id LIMIT ?`,

  // ---- idempotency ----
  findIdempotent: `SELECT ${prefixed(COMMAND_COLUMNS, 'c')} FROM idempotency_keys k JOIN commands c ON c.id = k.command_id
    WHERE k.user_id = ? AND k.key = ? AND k.expires_at > ?`,
  // an expired key may be taken again
  putIdempotencyKey: `INSERT INTO idempotency_keys (user_id, key, command_id, expires_at) VALUES (?, ?, ?, ?)
    ON CONFLICT (user_id, key) DO UPDATE SET command_id = excluded.command_id, expires_at = excluded.expires_at`,

  ping: 'SELECT 1',
} as const;

export type DeviceOwner = { readonly userId: string; readonly removedAt: number | null };
export type TransitionRow = CommandRecord & { readonly sequence: number };
export interface TransitionParams {
  id: string;
  from: string;
  to: string;
  at: number;
  setError: number;
  error: string | null;
  setResponse: number;
  responsePayloadJson: string | null;
  setCustomStatus: number;
  customStatus: string | null;
  setAttempts: number;
  attempts: number | null;
  setDueAt: number;
  dueAt: number | null;
}

type S<P extends unknown[], R = unknown> = Database.Statement<P, R>;
type Text = string;
type Nullable = string | null;

export interface Statements {
  readonly ensureUser: S<[Text]>;
  readonly ensurePostbackSecret: S<[Text, Text], string>;
  readonly insertDevice: S<[Text, Text, Text, Nullable, Nullable, Nullable, Nullable, Text, Text, number]>;
  readonly getDevice: S<[Text, Text], DeviceRecord>;
  readonly findDeviceByTokenHash: S<[Text], DeviceRecord>;
  readonly listDevices: S<[Text, number, number], DeviceRecord>;
  readonly setDevicePresence: S<[Text, number, Text]>;
  readonly removeDevice: S<[number, Text, Text]>;
  readonly deviceOwner: S<[Text], DeviceOwner>;
  readonly insertCommand: S<
    [Text, Text, Text, Text, Nullable, Nullable, Nullable, Nullable, Nullable, number, number, number]
  >;
  readonly countOpen: S<[Text], number>;
  readonly getCommand: S<[Text, Text, Text], CommandRecord>;
  readonly getCommandById: S<[Text], CommandRecord>;
  readonly listCommands: S<[Text, Text, Text, number], CommandRecord>;
  readonly listCommandsByStatus: S<[Text, Text, Text, Text, number], CommandRecord>;
  readonly listOpenCommands: S<[Text], CommandRecord>;
  readonly transitionCommand: S<[TransitionParams], TransitionRow>;
  readonly claimTimer: S<[number | null, Text, Text, number]>;
  readonly listDue: S<[number, number], CommandRecord>;
  readonly listUndelivered: S<[number, number], CommandRecord>;
  readonly insertHistory: S<[Text, Text, number, Text, number, Nullable]>;
  readonly listHistory: S<[Text], HistoryEntry>;
  readonly listUserHistorySince: S<[Text, number, number], HistoryEntry>;
  readonly findIdempotent: S<[Text, Text, number], CommandRecord>;
  readonly putIdempotencyKey: S<[Text, Text, Text, number]>;
  readonly ping: S<[], number>;
}

export function prepareStatements(db: Database.Database): Statements {
  const prepared: Record<string, Database.Statement> = {};
  for (const [name, sql] of Object.entries(SQL)) prepared[name] = db.prepare(sql);
  // single-value reads hand back the value itself
  for (const name of ['ensurePostbackSecret', 'countOpen', 'ping'] as const) prepared[name]!.pluck();
  return prepared as unknown as Statements;
}

function prefixed(columns: string, table: string): string {
  return columns
    .split(', ')
    .map((column) => `${table}.${column}`)
    .join(', ');
}
