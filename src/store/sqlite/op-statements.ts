import type Database from 'better-sqlite3';
import type { SqliteWrites } from './writes.js';

/**
 * The statements of a table of write operations (pairing-ops.ts,
 * presence-ops.ts), prepared on each writing connection at its first use:
 * the writer thread's connection, or the store's own when it writes inline.
 */
export function statementsOf<K extends string>(sql: Readonly<Record<K, string>>): (w: SqliteWrites) => { readonly [N in K]: Database.Statement } {
  const prepared = new WeakMap<SqliteWrites, { readonly [N in K]: Database.Statement }>();
  return (w) => {
    let s = prepared.get(w);
    if (s === undefined) {
      s = Object.fromEntries(Object.entries<string>(sql).map(([name, text]) => [name, w.db.prepare(text)])) as { readonly [N in K]: Database.Statement };
      prepared.set(w, s);
    }
    return s;
  };
}
