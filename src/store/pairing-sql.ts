import { uncollectedTokenHash } from '../domain/pairing.js';
import type { NewPairing, PairingApproval } from './pairings.js';
import type { NewDevice } from './store.js';

/**
 * DESIGN 10: the pairings table and its statements, one text for both
 * adapters (written with `?`; PostgreSQL's copy numbers them, see sql-shared.ts
 * `numbered`). The table is what SQLite migration 6 and PostgreSQL
 * migration 3 make: once released, never edit it; append a migration.
 */
export function pairingsTable(dialect: 'sqlite' | 'postgres'): string {
  const time = dialect === 'sqlite' ? 'INTEGER' : 'BIGINT';
  const id = dialect === 'sqlite' ? 'TEXT' : 'TEXT COLLATE "C"';
  return `
    CREATE TABLE device_pairings (
      -- SHA-256 of the pairing id only the device knows (the raw id is never stored)
      id_hash        ${id} PRIMARY KEY,
      -- SHA-256 of the normalised user code; cleared once the owner decided
      user_code_hash ${id} UNIQUE,
      name           TEXT NOT NULL,
      kind           TEXT,
      platform       TEXT,
      model          TEXT,
      manufacturer   TEXT,
      state          TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'collected')),
      created_at     ${time} NOT NULL,
      -- pending: until when it can be approved; approved: until when its token can be collected
      expires_at     ${time} NOT NULL,
      interval_ms    ${time} NOT NULL,
      last_polled_at ${time},
      user_id        ${id},
      device_id      ${id},
      decided_at     ${time}
    )${dialect === 'sqlite' ? ' STRICT' : ''};
    CREATE INDEX device_pairings_by_expiry ON device_pairings (expires_at);
  `;
}

const POLL_COLUMNS = 'state, expires_at AS "expiresAt", interval_ms AS "intervalMs", last_polled_at AS "lastPolledAt", device_id AS "deviceId"';

export const PAIRING_SQL = {
  forgetPairings: 'DELETE FROM device_pairings WHERE expires_at < ?',
  insertPairing: `INSERT INTO device_pairings (id_hash, user_code_hash, name, kind, platform, model, manufacturer, state,
      created_at, expires_at, interval_ms) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)`,
  // the pending pairing an owner approves or denies (a locking read on PostgreSQL: see its pairing.ts)
  pendingByUserCode: `SELECT id_hash AS "idHash", name, kind, platform, model, manufacturer FROM device_pairings
    WHERE user_code_hash = ? AND state = 'pending' AND expires_at > ?`,
  decidePairing: `UPDATE device_pairings SET state = ?, user_code_hash = NULL, user_id = ?, device_id = ?, decided_at = ?,
      expires_at = ? WHERE id_hash = ? AND state = 'pending'`,
  pollRow: `SELECT ${POLL_COLUMNS} FROM device_pairings WHERE id_hash = ?`,
  recordPoll: 'UPDATE device_pairings SET last_polled_at = ?, interval_ms = ?, state = ? WHERE id_hash = ?',
  // the paired device takes its token: once, and only while it holds the placeholder of this pairing
  collectToken: 'UPDATE devices SET token_hash = ? WHERE id = ? AND token_hash = ? AND removed_at IS NULL',
} as const;

export type PairingStatementName = keyof typeof PAIRING_SQL;

/** the values of insertPairing, in its order */
export function insertPairingValues(p: NewPairing): (string | number | null)[] {
  return [p.idHash, p.userCodeHash, p.name, p.kind, p.platform, p.model, p.manufacturer, p.createdAt, p.expiresAt, p.intervalMs];
}

/** what pendingByUserCode reads of a pairing */
export type PendingPairingRow = Pick<NewPairing, 'idHash' | 'name' | 'kind' | 'platform' | 'model' | 'manufacturer'>;

/** DESIGN 10: the device an approval registers: the pairing's description, holding the pairing's placeholder token hash until its token is collected */
export function pairedDevice(approval: PairingApproval, row: PendingPairingRow): NewDevice {
  return {
    id: approval.deviceId,
    userId: approval.userId,
    name: row.name,
    kind: row.kind,
    platform: row.platform,
    model: row.model,
    manufacturer: row.manufacturer,
    tokenHash: uncollectedTokenHash(row.idHash),
    createdAt: approval.at,
  };
}
