import type { CommandRecord, HistoryEntry } from '../domain/command.js';
import { INITIAL_STATUS } from '../domain/lifecycle.js';
import { AWAITING_DELIVERY } from '../domain/policy.js';
import { FINAL_STATUSES } from '../domain/policy.js';
import type { DeviceRecord } from '../domain/device.js';
import type { ChainResult, CreateOptions, NewCommand, NewDevice, PostbackEntry, StatusChange } from './store.js';

/**
 * SQL text and record building that every SQL adapter shares (SQLite and
 * PostgreSQL accept all of it). Select lists alias the snake_case columns to
 * the record's camelCase property names, so a driver's row *is* the record.
 * (The SQLite adapter reads commands as arrays in COMMAND_COLUMNS order
 * instead, which better-sqlite3 makes faster: sqlite/statements.ts
 * CommandRow.) Aliases are double-quoted because PostgreSQL folds unquoted
 * names to lower case.
 */

/**
 * A command that is not final (DESIGN 3), built from the domain's policy.
 * Partial indexes are declared with exactly this text (SQLite migration 3
 * froze it as OPEN_COMMAND_V3) and queries repeat it, because SQLite only
 * uses a partial index when the query contains each of the index's WHERE
 * terms itself; a test holds the two equal, so a change to the policy needs
 * a migration that rebuilds those indexes.
 *
 * One `<>` per status, not `status NOT IN (...)`: SQLite evaluates a list of
 * more than two values through a temporary b-tree that it builds anew on every
 * execution of a statement, and every insert or status change evaluates this
 * condition for each partial index, for the row before and after. With the
 * list, that was about a third of the cost of a command's writes.
 */
export const OPEN_COMMAND = FINAL_STATUSES.map((s) => `status <> '${s}'`).join(' AND ');

/** A command waiting for delivery (POLICY's awaitsDelivery). */
export const AWAITING_DELIVERY_SQL = `status IN (${AWAITING_DELIVERY.map((s) => `'${s}'`).join(', ')})`;

/**
 * A device that is registered and not known to be away (Online, Standby or
 * Unknown). Like OPEN_COMMAND, the partial index devices_present is declared
 * with exactly this text, and queries repeat it.
 */
export const PRESENT_DEVICE = "removed_at IS NULL AND status <> 'Offline'";

/** DESIGN 4, the presence lease: what a renewal sets (a device a lease ran out on is present again) */
export const RENEWED_PRESENCE = "last_seen_at = ?, status = CASE WHEN status = 'Offline' THEN 'Online' ELSE status END";
/** DESIGN 4, the presence lease: present devices no node renewed since `?` go Offline (PRESENT_DEVICE: the devices_present index) */
export const EXPIRE_PRESENCE = `UPDATE devices SET status = 'Offline' WHERE ${PRESENT_DEVICE} AND last_seen_at < ? RETURNING id`;

/** `?` placeholders as PostgreSQL's `$1`, `$2`, ..., so one statement text serves both adapters */
export function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** when a command next needs the scheduler: its status timer or, sooner, its expiry */
export const WAKE_AT = 'CASE WHEN due_at IS NOT NULL AND due_at < expires_at THEN due_at ELSE expires_at END';

export const COMMAND_COLUMNS = [
  'id',
  'user_id AS "userId"',
  'device_id AS "deviceId"',
  'type',
  'payload_json AS "payloadJson"',
  'app_service_name AS "appServiceName"',
  'package_family_name AS "packageFamilyName"',
  'permission_ticket AS "permissionTicket"',
  'post_back_uri AS "postBackUri"',
  'status',
  'error',
  'response_payload_json AS "responsePayloadJson"',
  'custom_status AS "customStatus"',
  'created_at AS "createdAt"',
  'last_modified_at AS "lastModifiedAt"',
  'expires_at AS "expiresAt"',
  'attempts',
  'due_at AS "dueAt"',
  'batch_id AS "batchId"',
].join(', ');

export const DEVICE_COLUMNS = [
  'id',
  'user_id AS "userId"',
  'name',
  'kind',
  'platform',
  'model',
  'manufacturer',
  'status',
  'last_seen_at AS "lastSeenAt"',
  'created_at AS "createdAt"',
].join(', ');

/**
 * The fields a status change may set besides its status, each with its
 * column: a change sets those it defines (undefined leaves a field as it is).
 * Order matters to adapters that encode a set of them as a bit mask.
 */
export const CHANGE_FIELDS = [
  ['error', 'error'],
  ['responsePayloadJson', 'response_payload_json'],
  ['customStatus', 'custom_status'],
  ['attempts', 'attempts'],
  ['dueAt', 'due_at'],
] as const satisfies readonly (readonly [keyof StatusChange, string])[];

export const HISTORY_COLUMNS = ['id', 'command_id AS "commandId"', 'sequence', 'status', 'at', 'detail'].join(', ');

/** the status a newly registered device has: it has not connected yet */
export const NEW_DEVICE_STATUS = 'Offline' satisfies DeviceRecord['status'];

/** how long an idempotency key is kept when the caller does not say (DESIGN 2: at least 24 h) */
export const DEFAULT_IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

/** The record of a command as `createCommand` stores it (DESIGN 3: born INITIAL_STATUS). */
export function newCommandRecord(command: NewCommand): CommandRecord {
  return {
    id: command.id,
    userId: command.userId,
    deviceId: command.deviceId,
    type: command.type,
    payloadJson: command.payloadJson,
    appServiceName: command.appServiceName,
    packageFamilyName: command.packageFamilyName,
    permissionTicket: command.permissionTicket,
    postBackUri: command.postBackUri,
    status: INITIAL_STATUS,
    error: null,
    responsePayloadJson: null,
    customStatus: null,
    createdAt: command.createdAt,
    lastModifiedAt: command.createdAt,
    expiresAt: command.expiresAt,
    attempts: 0,
    dueAt: null,
    batchId: command.batchId ?? null,
  };
}

export function newDeviceRecord(device: NewDevice): DeviceRecord {
  return {
    id: device.id,
    userId: device.userId,
    name: device.name,
    kind: device.kind,
    platform: device.platform,
    model: device.model,
    manufacturer: device.manufacturer,
    status: NEW_DEVICE_STATUS,
    lastSeenAt: null,
    createdAt: device.createdAt,
  };
}

export function historyEntry(
  id: number,
  commandId: string,
  sequence: number,
  status: HistoryEntry['status'],
  at: number,
  detail: string | null,
): HistoryEntry {
  return { id, commandId, sequence, status, at, detail };
}


/** DESIGN 6: a postback's `webhook-id`, the same on every retry and unique across commands. */
export function webhookIdOf(commandId: string, sequence: number): string {
  return `msg_${commandId}_${sequence}`;
}

/** The postbacks' columns, aliased to PostbackEntry's names (webhookId is derived). */
export const POSTBACK_COLUMNS = [
  'id',
  'command_id AS "commandId"',
  'user_id AS "userId"',
  'sequence',
  'url',
  'record_json AS "recordJson"',
  'state',
  'attempts',
  'created_at AS "createdAt"',
  'next_attempt_at AS "nextAttemptAt"',
  'first_attempt_at AS "firstAttemptAt"',
  'last_attempt_at AS "lastAttemptAt"',
  'last_response_status AS "lastResponseStatus"',
  'last_error AS "lastError"',
  'delivered_at AS "deliveredAt"',
].join(', ');

/** a postbacks row as POSTBACK_COLUMNS selects it, with its derived webhookId */
export function postbackEntry(row: Omit<PostbackEntry, 'webhookId'>): PostbackEntry {
  return { ...row, webhookId: webhookIdOf(row.commandId, row.sequence) };
}

/** CreateOptions.chainConnection: the chain may apply to a device whose latest connection is `latest` */
export function chainConnectionHolds(options: CreateOptions, latest: string | null): boolean {
  return options.chainConnection === undefined || options.chainConnection === latest;
}

/** a create's chain refused before its first change (CreateOptions.chainConnection) */
export const REFUSED_CHAIN: ChainResult = { applied: [], refusedAt: 0 };
