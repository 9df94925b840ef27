import type Database from 'better-sqlite3';
import type { CommandRecord, HistoryEntry } from '../../domain/command.js';
import type { DeviceRecord } from '../../domain/device.js';
import {
  AWAITING_DELIVERY_SQL,
  COMMAND_COLUMNS,
  DEVICE_COLUMNS,
  HISTORY_COLUMNS,
  OPEN_COMMAND,
  POSTBACK_COLUMNS,
  PRESENT_DEVICE,
} from '../sql-shared.js';
import type { PostbackEntry } from '../store.js';

const SECRET_COLUMNS =
  'postback_secret AS "current", postback_secret_previous AS "previous", postback_secret_previous_until AS "previousUntil"';

/**
 * Every statement the SQLite store runs, as text (so a test can check each
 * query's plan) and prepared once per connection by `prepareStatements`.
 */
export const SQL = {
  // ---- users ----
  ensureUser: 'INSERT INTO users (id) VALUES (?) ON CONFLICT (id) DO NOTHING',
  ensurePostbackSecrets: `INSERT INTO users (id, postback_secret) VALUES (?, ?)
    ON CONFLICT (id) DO UPDATE SET postback_secret = coalesce(users.postback_secret, excluded.postback_secret)
    RETURNING ${SECRET_COLUMNS}`,
  // the current secret becomes the previous one, which keeps signing until the given time
  rotatePostbackSecret: `INSERT INTO users (id, postback_secret) VALUES (?, ?)
    ON CONFLICT (id) DO UPDATE SET postback_secret_previous = users.postback_secret,
      postback_secret_previous_until = CASE WHEN users.postback_secret IS NULL THEN NULL ELSE ? END,
      postback_secret = excluded.postback_secret
    RETURNING ${SECRET_COLUMNS}`,

  // ---- devices ----
  insertDevice: `INSERT INTO devices (id, user_id, name, kind, platform, model, manufacturer, status, token_hash, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  getDevice: `SELECT ${DEVICE_COLUMNS} FROM devices WHERE id = ? AND user_id = ? AND removed_at IS NULL`,
  findDeviceByTokenHash: `SELECT ${DEVICE_COLUMNS} FROM devices WHERE token_hash = ? AND removed_at IS NULL`,
  listDevices: `SELECT ${DEVICE_COLUMNS} FROM devices WHERE user_id = ? AND removed_at IS NULL
    ORDER BY created_at, rowid LIMIT ? OFFSET ?`,
  listDevicesByStatus: `SELECT ${DEVICE_COLUMNS} FROM devices WHERE user_id = ? AND removed_at IS NULL AND status = ?
    ORDER BY created_at, rowid LIMIT ? OFFSET ?`,
  // the device limit (DESIGN 8), counted in the registration's own transaction
  countDevices: 'SELECT count(*) FROM devices WHERE user_id = ? AND removed_at IS NULL',
  connectDevice: `UPDATE devices SET status = 'Online', last_seen_at = ?, connection_id = ?
    WHERE id = ? AND removed_at IS NULL`,
  setDevicePresence: `UPDATE devices SET status = ?, last_seen_at = ?
    WHERE id = ? AND connection_id = ? AND removed_at IS NULL`,
  removeDevice: `UPDATE devices SET removed_at = ?, token_hash = NULL, status = 'Offline'
    WHERE id = ? AND user_id = ? AND removed_at IS NULL`,
  deviceOwner: 'SELECT user_id AS "userId", removed_at AS "removedAt", connection_id AS "connectionId" FROM devices WHERE id = ?',

  // ---- commands ----
  insertCommand: `INSERT INTO commands (id, user_id, device_id, type, payload_json, app_service_name, package_family_name,
      permission_ticket, post_back_uri, status, created_at, last_modified_at, expires_at, attempts, last_sequence)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 1)`,
  countOpen: `SELECT count(*) FROM commands WHERE device_id = ? AND ${OPEN_COMMAND}`,
  getCommand: `SELECT ${COMMAND_COLUMNS} FROM commands WHERE id = ? AND user_id = ? AND device_id = ?`,
  getCommandById: `SELECT ${COMMAND_COLUMNS} FROM commands WHERE id = ?`,
  // '~' sorts after every upper-case hex id, so "no beforeId" needs no second statement
  listCommands: `SELECT ${COMMAND_COLUMNS} FROM commands
    WHERE user_id = ? AND device_id = ? AND id < ? ORDER BY id DESC LIMIT ?`,
  listCommandsByStatus: `SELECT ${COMMAND_COLUMNS} FROM commands
    WHERE user_id = ? AND device_id = ? AND id < ? AND status = ? ORDER BY id DESC LIMIT ?`,
  listOpenCommands: `SELECT ${COMMAND_COLUMNS} FROM commands WHERE device_id = ? AND ${OPEN_COMMAND} ORDER BY id`,
  // The compare-and-set (DESIGN 3) reads the row first, then writes it with transitionSql (below)
  commandForChange: `SELECT ${COMMAND_COLUMNS}, rowid, last_sequence FROM commands WHERE id = ?`,
  claimTimer: 'UPDATE commands SET due_at = ? WHERE id = ? AND status = ? AND due_at = ?',
  // soonest first; ties in index (insertion) order, so a backlog is never sorted whole
  listDue: `SELECT ${COMMAND_COLUMNS} FROM commands WHERE ${OPEN_COMMAND} AND wake_at <= ? ORDER BY wake_at LIMIT ?`,
  // devices_present drives it: only present devices' open commands are looked at
  listUndelivered: `SELECT ${COMMAND_COLUMNS} FROM commands
    WHERE device_id IN (SELECT id FROM devices WHERE ${PRESENT_DEVICE})
      AND ${OPEN_COMMAND} AND ${AWAITING_DELIVERY_SQL} AND due_at IS NULL AND last_modified_at <= ?
    LIMIT ?`,

  // ---- history ----
  insertHistory: 'INSERT INTO command_history (command_id, user_id, sequence, status, at, detail) VALUES (?, ?, ?, ?, ?, ?)',
  listHistory: `SELECT ${HISTORY_COLUMNS} FROM command_history WHERE command_id = ? ORDER BY sequence`,
  listUserHistorySince: `SELECT ${HISTORY_COLUMNS} FROM command_history WHERE user_id = ? AND id > ?
    ORDER BY id LIMIT ?`,
  lastUserHistoryId: 'SELECT coalesce(max(id), 0) AS id FROM command_history WHERE user_id = ?',

  // ---- idempotency ----
  findIdempotent: `SELECT ${prefixed(COMMAND_COLUMNS, 'c')}, k.fingerprint FROM idempotency_keys k JOIN commands c ON c.id = k.command_id
    WHERE k.user_id = ? AND k.key = ? AND k.expires_at > ?`,
  // an expired key may be taken again
  putIdempotencyKey: `INSERT INTO idempotency_keys (user_id, key, command_id, expires_at, fingerprint) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (user_id, key) DO UPDATE SET command_id = excluded.command_id, expires_at = excluded.expires_at,
      fingerprint = excluded.fingerprint`,

  // ---- postbacks ----
  insertPostback: `INSERT INTO postbacks (command_id, user_id, sequence, url, record_json, state, attempts, created_at, next_attempt_at)
    VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)`,
  // the head of each command's queue only: entry n+1 waits for n (DESIGN 6, in order per command)
  duePostbacks: `SELECT ${POSTBACK_COLUMNS} FROM postbacks p
    WHERE state = 'pending' AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
      AND NOT EXISTS (SELECT 1 FROM postbacks q WHERE q.command_id = p.command_id AND q.state = 'pending' AND q.sequence < p.sequence)
    ORDER BY next_attempt_at LIMIT ?`,
  leasePostback: 'UPDATE postbacks SET lease_until = ?, claim_token = ? WHERE id = ?',
  recordPostbackAttempt: `UPDATE postbacks SET state = ?, attempts = attempts + 1, last_attempt_at = ?, first_attempt_at = coalesce(first_attempt_at, ?), last_response_status = ?,
      last_error = ?, next_attempt_at = ?, delivered_at = ?, lease_until = NULL, claim_token = NULL
    WHERE id = ? AND claim_token = ? AND state = 'pending'
    RETURNING command_id AS "commandId", sequence`,
  noteInHistory: `UPDATE command_history SET detail = CASE WHEN detail IS NULL THEN ? ELSE detail || '; ' || ? END
    WHERE command_id = ? AND sequence = ?`,
  listPostbacks: `SELECT ${POSTBACK_COLUMNS} FROM postbacks WHERE command_id = ? ORDER BY sequence`,
  postbackDepth: `SELECT count(*) FROM postbacks WHERE state = 'pending'`,

  ping: 'SELECT 1',
} as const;

export type DeviceOwner = { readonly userId: string; readonly removedAt: number | null; readonly connectionId: string | null };
/**
 * A command as its statements return it: better-sqlite3's raw mode, an array
 * in COMMAND_COLUMNS order, which `commandFromRow` makes the record. Letting
 * the driver build the object instead (the aliases name its properties)
 * costs about twice as much per row: it sets 18 properties one by one by
 * name, where a JS object literal has one shape made once.
 */
export type CommandRow = [
  id: string,
  userId: string,
  deviceId: string,
  type: CommandRecord['type'],
  payloadJson: string | null,
  appServiceName: string | null,
  packageFamilyName: string | null,
  permissionTicket: string | null,
  postBackUri: string | null,
  status: CommandRecord['status'],
  error: string | null,
  responsePayloadJson: string | null,
  customStatus: string | null,
  createdAt: number,
  lastModifiedAt: number,
  expiresAt: number,
  attempts: number,
  dueAt: number | null,
  batchId: string | null,
];

export function commandFromRow(row: CommandRow | ChangeSourceRow | IdempotentRow): CommandRecord {
  return {
    id: row[0],
    userId: row[1],
    deviceId: row[2],
    type: row[3],
    payloadJson: row[4],
    appServiceName: row[5],
    packageFamilyName: row[6],
    permissionTicket: row[7],
    postBackUri: row[8],
    status: row[9],
    error: row[10],
    responsePayloadJson: row[11],
    customStatus: row[12],
    createdAt: row[13],
    lastModifiedAt: row[14],
    expiresAt: row[15],
    attempts: row[16],
    dueAt: row[17],
    batchId: row[18],
  };
}

export function optionalCommand(row: CommandRow | undefined): CommandRecord | undefined {
  return row === undefined ? undefined : commandFromRow(row);
}

export function commandsFromRows(rows: CommandRow[]): CommandRecord[] {
  const commands = new Array<CommandRecord>(rows.length);
  for (let i = 0; i < rows.length; i++) commands[i] = commandFromRow(rows[i]!);
  return commands;
}

/** `findIdempotent`: the first command, then the fingerprint its key was stored with */
export type IdempotentRow = [...CommandRow, fingerprint: string | null];
export const IDEMPOTENT_FINGERPRINT = 19;

/** `commandForChange`: the command, then its rowid and the sequence of its latest history entry */
export type ChangeSourceRow = [...CommandRow, rowid: number, lastSequence: number];
export const CHANGE_ROWID = 19;
export const CHANGE_LAST_SEQUENCE = 20;

/**
 * The fields a status change may set besides the status, each a bit of a
 * `transitionSql` mask. A statement assigns only the columns whose value
 * changes, because SQLite rewrites every index on an assigned column (and
 * every partial index whose condition names one), even when the value stays.
 */
export const TRANSITION_FIELDS = [
  'error',
  'response_payload_json',
  'custom_status',
  'attempts',
  'due_at',
] as const;
export const SET_ERROR = 1;
export const SET_RESPONSE = 2;
export const SET_CUSTOM_STATUS = 4;
export const SET_ATTEMPTS = 8;
export const SET_DUE_AT = 16;

/**
 * The write of a status change whose row was read in the same transaction.
 * Parameters: status, last_modified_at, last_sequence, then one per field of
 * `mask` in TRANSITION_FIELDS order, then the rowid and the status it was
 * read with (the compare-and-set, kept as a guard).
 */
export function transitionSql(mask: number): string {
  let sql = 'UPDATE commands SET status = ?, last_modified_at = ?, last_sequence = ?';
  TRANSITION_FIELDS.forEach((column, bit) => {
    if (mask & (1 << bit)) sql += `, ${column} = ?`;
  });
  return `${sql} WHERE rowid = ? AND status = ?`;
}

type S<P extends unknown[], R = unknown> = Database.Statement<P, R>;
type SecretsRow = { current: string; previous: string | null; previousUntil: number | null };
type PostbackRow = Omit<PostbackEntry, 'webhookId'>;
type Text = string;
type Nullable = string | null;

export interface Statements {
  readonly ensureUser: S<[Text]>;
  readonly ensurePostbackSecrets: S<[Text, Text], SecretsRow>;
  readonly rotatePostbackSecret: S<[Text, Text, number], SecretsRow>;
  readonly insertDevice: S<[Text, Text, Text, Nullable, Nullable, Nullable, Nullable, Text, Text, number]>;
  readonly getDevice: S<[Text, Text], DeviceRecord>;
  readonly findDeviceByTokenHash: S<[Text], DeviceRecord>;
  readonly listDevices: S<[Text, number, number], DeviceRecord>;
  readonly listDevicesByStatus: S<[Text, Text, number, number], DeviceRecord>;
  readonly countDevices: S<[Text], number>;
  readonly connectDevice: S<[number, Text, Text]>;
  readonly setDevicePresence: S<[Text, number, Text, Text]>;
  readonly removeDevice: S<[number, Text, Text]>;
  readonly deviceOwner: S<[Text], DeviceOwner>;
  readonly insertCommand: S<
    [Text, Text, Text, Text, Nullable, Nullable, Nullable, Nullable, Nullable, Text, number, number, number]
  >;
  readonly countOpen: S<[Text], number>;
  readonly getCommand: S<[Text, Text, Text], CommandRow>;
  readonly getCommandById: S<[Text], CommandRow>;
  readonly listCommands: S<[Text, Text, Text, number], CommandRow>;
  readonly listCommandsByStatus: S<[Text, Text, Text, Text, number], CommandRow>;
  readonly listOpenCommands: S<[Text], CommandRow>;
  readonly commandForChange: S<[Text], ChangeSourceRow>;
  readonly claimTimer: S<[number | null, Text, Text, number]>;
  readonly listDue: S<[number, number], CommandRow>;
  readonly listUndelivered: S<[number, number], CommandRow>;
  readonly insertHistory: S<[Text, Text, number, Text, number, Nullable]>;
  readonly listHistory: S<[Text], HistoryEntry>;
  readonly listUserHistorySince: S<[Text, number, number], HistoryEntry>;
  readonly lastUserHistoryId: S<[Text], { id: number }>;
  readonly findIdempotent: S<[Text, Text, number], IdempotentRow>;
  readonly putIdempotencyKey: S<[Text, Text, Text, number, Nullable]>;
  readonly insertPostback: S<[Text, Text, number, Text, Text, number, number]>;
  readonly duePostbacks: S<[number, number, number], PostbackRow>;
  readonly leasePostback: S<[number, Text, number]>;
  readonly recordPostbackAttempt: S<
    [Text, number, number, number | null, Nullable, number | null, number | null, number, Text],
    { commandId: string; sequence: number }
  >;
  readonly noteInHistory: S<[Text, Text, Text, number]>;
  readonly listPostbacks: S<[Text], PostbackRow>;
  readonly postbackDepth: S<[], number>;
  readonly ping: S<[], number>;
}

export function prepareStatements(db: Database.Database): Statements {
  const prepared: Record<string, Database.Statement> = {};
  for (const [name, sql] of Object.entries(SQL)) prepared[name] = db.prepare(sql);
  // single-value reads hand back the value itself
  for (const name of ['countOpen', 'countDevices', 'postbackDepth', 'ping'] as const) prepared[name]!.pluck();
  for (const name of COMMAND_READS) prepared[name]!.raw();
  return prepared as unknown as Statements;
}

/** the statements that return commands, as CommandRow arrays */
export const COMMAND_READS = [
  'getCommand',
  'getCommandById',
  'listCommands',
  'listCommandsByStatus',
  'listOpenCommands',
  'listDue',
  'listUndelivered',
  'findIdempotent',
  'commandForChange',
] as const satisfies readonly (keyof typeof SQL)[];

function prefixed(columns: string, table: string): string {
  return columns
    .split(', ')
    .map((column) => `${table}.${column}`)
    .join(', ');
}
