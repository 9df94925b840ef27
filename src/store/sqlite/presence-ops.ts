import type Database from 'better-sqlite3';
import type { SqliteWrites } from './writes.js';

// the ids travel as one JSON array (json_each), however many connections a node holds
const RENEW = `UPDATE devices SET last_seen_at = ?, status = CASE WHEN status = 'Offline' THEN 'Online' ELSE status END
  WHERE connection_id IN (SELECT value FROM json_each(?)) AND removed_at IS NULL`;
const EXPIRE = `UPDATE devices SET status = 'Offline'
  WHERE removed_at IS NULL AND status <> 'Offline' AND last_seen_at < ? RETURNING id`;

/** the presence statements of each writing connection, prepared on its first presence write */
const prepared = new WeakMap<SqliteWrites, { readonly renew: Database.Statement; readonly expire: Database.Statement }>();

function statements(w: SqliteWrites): { readonly renew: Database.Statement; readonly expire: Database.Statement } {
  let s = prepared.get(w);
  if (s === undefined) {
    s = { renew: w.db.prepare(RENEW), expire: w.db.prepare(EXPIRE).pluck() };
    prepared.set(w, s);
  }
  return s;
}

/** the presence writes, spread into WRITE_OPS */
export const PRESENCE_WRITE_OPS = {
  renewPresence: { multiStatement: false, run: (w: SqliteWrites, ids: readonly string[], at: number): number => statements(w).renew.run(at, JSON.stringify(ids)).changes },
  expirePresence: { multiStatement: false, run: (w: SqliteWrites, seenBefore: number): string[] => statements(w).expire.all(seenBefore) as string[] },
};
