import {
  AWAITING_DELIVERY_SQL,
  COMMAND_COLUMNS,
  DEVICE_COLUMNS,
  HISTORY_COLUMNS,
  OPEN_COMMAND,
  POSTBACK_COLUMNS,
  PRESENT_DEVICE,
} from '../sql-shared.js';
import { FEED_LOCK_SHARED, RECORD_JSON } from './feed.js';

const SECRET_COLUMNS =
  'postback_secret AS "current", postback_secret_previous AS "previous", postback_secret_previous_until AS "previousUntil"';

/**
 * Every statement the PostgreSQL store runs but the status change's (see
 * change-sql.ts). Each is sent as a named query, so a connection parses and
 * plans it once; the keys are the names.
 */
export const SQL = {
  // ---- users ----
  ensureUser: 'INSERT INTO users (id) VALUES ($1) ON CONFLICT (id) DO NOTHING',
  ensurePostbackSecrets: `INSERT INTO users (id, postback_secret) VALUES ($1, $2)
    ON CONFLICT (id) DO UPDATE SET postback_secret = coalesce(users.postback_secret, excluded.postback_secret)
    RETURNING ${SECRET_COLUMNS}`,
  // the current secret becomes the previous one, which keeps signing until $3
  rotatePostbackSecret: `INSERT INTO users (id, postback_secret) VALUES ($1, $2)
    ON CONFLICT (id) DO UPDATE SET postback_secret_previous = users.postback_secret,
      postback_secret_previous_until = CASE WHEN users.postback_secret IS NULL THEN NULL ELSE $3::bigint END,
      postback_secret = excluded.postback_secret
    RETURNING ${SECRET_COLUMNS}`,

  // ---- devices ----
  insertDevice: `INSERT INTO devices (id, user_id, name, kind, platform, model, manufacturer, status, token_hash, created_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
  getDevice: `SELECT ${DEVICE_COLUMNS} FROM devices WHERE id = $1 AND user_id = $2 AND removed_at IS NULL`,
  findDeviceByTokenHash: `SELECT ${DEVICE_COLUMNS} FROM devices WHERE token_hash = $1 AND removed_at IS NULL`,
  listDevices: `SELECT ${DEVICE_COLUMNS} FROM devices WHERE user_id = $1 AND removed_at IS NULL
    ORDER BY created_at, id LIMIT $2 OFFSET $3`,
  listDevicesByStatus: `SELECT ${DEVICE_COLUMNS} FROM devices WHERE user_id = $1 AND removed_at IS NULL AND status = $2
    ORDER BY created_at, id LIMIT $3 OFFSET $4`,
  // the device limit (DESIGN 8): registrations of one user wait for each other on the user's row
  lockUser: 'SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE',
  countDevices: 'SELECT count(*) AS "devices" FROM devices WHERE user_id = $1 AND removed_at IS NULL',
  connectDevice: `UPDATE devices SET status = 'Online', last_seen_at = $1, connection_id = $2
    WHERE id = $3 AND removed_at IS NULL`,
  // only the latest connection speaks for the device: a row lock orders a racing connect and report
  setDevicePresence: `UPDATE devices SET status = $1, last_seen_at = $2
    WHERE id = $3 AND connection_id = $4 AND removed_at IS NULL`,
  removeDevice: `UPDATE devices SET removed_at = $1, token_hash = NULL, status = 'Offline'
    WHERE id = $2 AND user_id = $3 AND removed_at IS NULL`,
  // A create locks its device's row: against a removal committing between
  // the check and the insert, and (exclusively, with a limit) against other
  // creates counting the same open commands. NO KEY UPDATE rather than
  // UPDATE: other transactions' foreign-key checks on the row still pass.
  deviceForCreate: 'SELECT user_id AS "userId", removed_at AS "removedAt", connection_id AS "connectionId" FROM devices WHERE id = $1 FOR SHARE',
  deviceForLimitedCreate: 'SELECT user_id AS "userId", removed_at AS "removedAt", connection_id AS "connectionId" FROM devices WHERE id = $1 FOR NO KEY UPDATE',

  // ---- commands ----
  // the command, then (after the feed lock) its first history entry and, with a postBackUri, its first postback
  insertCommand: `WITH command AS (
      INSERT INTO commands (id, user_id, device_id, type, payload_json, app_service_name, package_family_name,
        permission_ticket, post_back_uri, status, created_at, last_modified_at, expires_at, attempts, last_sequence)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, 0, 1)
      RETURNING ${COMMAND_COLUMNS}
    ), feed AS (
      SELECT ${FEED_LOCK_SHARED('"userId"')} FROM command
    ), entry AS (
      INSERT INTO command_history (command_id, user_id, sequence, status, at)
      SELECT id, "userId", 1, status, "createdAt" FROM command, feed
      RETURNING id
    ), postback AS (
      INSERT INTO postbacks (command_id, user_id, sequence, url, record_json, state, attempts, created_at, next_attempt_at)
      SELECT id, "userId", 1, "postBackUri", ${RECORD_JSON}, 'pending', 0, "createdAt", "createdAt"
      FROM command, feed WHERE "postBackUri" IS NOT NULL
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
  // before a chain of several changes: the feed locks of their users first, so no chain waits for one while holding row locks
  lockFeedsOfCommands: `SELECT ${FEED_LOCK_SHARED('user_id')} FROM (SELECT DISTINCT user_id FROM commands WHERE id = ANY($1::text[])) u`,
  // PostgreSQL re-checks the WHERE on the row a racing claim left, so exactly one claim matches
  claimTimer: 'UPDATE commands SET due_at = $1 WHERE id = $2 AND status = $3 AND due_at = $4',
  listDue: `SELECT ${COMMAND_COLUMNS} FROM commands WHERE ${OPEN_COMMAND} AND wake_at <= $1 ORDER BY wake_at, id LIMIT $2`,
  listUndelivered: `SELECT ${COMMAND_COLUMNS} FROM commands
    WHERE device_id IN (SELECT id FROM devices WHERE ${PRESENT_DEVICE})
      AND ${OPEN_COMMAND} AND ${AWAITING_DELIVERY_SQL} AND due_at IS NULL AND last_modified_at <= $1
    LIMIT $2`,

  // ---- history ----
  listHistory: `SELECT ${HISTORY_COLUMNS} FROM command_history WHERE command_id = $1 ORDER BY sequence`,
  listUserHistorySince: `SELECT ${HISTORY_COLUMNS} FROM command_history WHERE user_id = $1 AND id > $2
    ORDER BY id LIMIT $3`,
  lastUserHistoryId: 'SELECT coalesce(max(id), 0) AS id FROM command_history WHERE user_id = $1',

  // ---- idempotency ----
  // Claims the key, or takes over an expired one; returns no row when another
  // create holds it. Racing claims wait on the key's index entry, so the
  // second sees the first's outcome: committed (its key, no row) or rolled
  // back (the claim is free again).
  claimIdempotencyKey: `INSERT INTO idempotency_keys (user_id, key, command_id, expires_at, fingerprint) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (user_id, key) DO UPDATE SET command_id = excluded.command_id, expires_at = excluded.expires_at,
        fingerprint = excluded.fingerprint
      WHERE idempotency_keys.expires_at <= $6
    RETURNING 1 AS "claimed"`,
  idempotentCommand: `WITH k AS (SELECT command_id, fingerprint AS fp FROM idempotency_keys WHERE user_id = $1 AND key = $2)
    SELECT ${COMMAND_COLUMNS}, k.fp AS "fingerprint" FROM commands JOIN k ON commands.id = k.command_id`,

  // ---- postbacks (DESIGN 6) ----
  // Of each command only the head of its queue (entry n+1 waits for n). SKIP
  // LOCKED: a node claiming at the same moment passes over what this one is
  // leasing, and PostgreSQL re-checks the lease on rows leased meanwhile.
  claimPostbacks: `UPDATE postbacks SET lease_until = $3, claim_token = $4
    WHERE id IN (
      SELECT id FROM postbacks p
      WHERE state = 'pending' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
        AND NOT EXISTS (SELECT 1 FROM postbacks q WHERE q.command_id = p.command_id AND q.state = 'pending' AND q.sequence < p.sequence)
      ORDER BY next_attempt_at, id LIMIT $2
      FOR UPDATE SKIP LOCKED)
    RETURNING ${POSTBACK_COLUMNS}`,
  // the attempt, if the claim still holds; giving up notes it in the history entry the postback reported
  recordPostbackAttempt: `WITH recorded AS (
      UPDATE postbacks SET state = $1, attempts = attempts + 1, last_attempt_at = $2, first_attempt_at = coalesce(first_attempt_at, $2),
        last_response_status = $3, last_error = $4, next_attempt_at = $5, delivered_at = $6, lease_until = NULL, claim_token = NULL
      WHERE id = $7 AND claim_token = $8 AND state = 'pending'
      RETURNING command_id, sequence
    ), noted AS (
      UPDATE command_history h SET detail = CASE WHEN h.detail IS NULL THEN $9::text ELSE h.detail || '; ' || $9::text END
      FROM recorded r WHERE $9::text IS NOT NULL AND h.command_id = r.command_id AND h.sequence = r.sequence
    )
    SELECT count(*) AS "recorded" FROM recorded`,
  listPostbacks: `SELECT ${POSTBACK_COLUMNS} FROM postbacks WHERE command_id = $1 ORDER BY sequence`,
  postbackDepth: `SELECT count(*) AS "depth" FROM postbacks WHERE state = 'pending'`,

  ping: 'SELECT 1',
} as const;

export type StatementName = keyof typeof SQL;

export type DeviceOwner = { readonly userId: string; readonly removedAt: number | null; readonly connectionId: string | null };
