import { EXPIRE_PRESENCE, RENEWED_PRESENCE } from '../sql-shared.js';
import { statementsOf } from './op-statements.js';
import type { SqliteWrites } from './writes.js';

/** the presence statements of each writing connection; a renewal's ids travel as one JSON array (json_each), however many a node holds */
const statements = statementsOf({
  renew: `UPDATE devices SET ${RENEWED_PRESENCE} WHERE connection_id IN (SELECT value FROM json_each(?)) AND removed_at IS NULL`,
  expire: EXPIRE_PRESENCE,
});

/** the presence writes, spread into WRITE_OPS */
export const PRESENCE_WRITE_OPS = {
  renewPresence: { multiStatement: false, run: (w: SqliteWrites, ids: readonly string[], at: number): number => statements(w).renew.run(at, JSON.stringify(ids)).changes },
  expirePresence: { multiStatement: false, run: (w: SqliteWrites, seenBefore: number): string[] => (statements(w).expire.all(seenBefore) as { id: string }[]).map((r) => r.id) },
};
