import Database from 'better-sqlite3';
import { AppiaError } from '../../domain/errors.js';

export function closedError(): AppiaError {
  return new AppiaError('unavailable', 'the store is closed');
}

/**
 * SQLite's errors in the catalogue's terms: a broken uniqueness rule is a
 * conflict, a database that cannot be reached or written is `unavailable`
 * (503, DESIGN 2), anything else is an internal fault. Our own errors pass.
 * The messages never carry SQLite's own text (it names tables, columns and
 * values, and reaches HTTP clients and commands' `error`); that stays in
 * `cause`, for the log.
 */
export function storeError(err: unknown): unknown {
  if (err instanceof AppiaError || !(err instanceof Database.SqliteError)) return err;
  const code = err.code;
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    return new AppiaError('conflict', 'the item is already stored', { cause: err });
  }
  if (/^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|CORRUPT|NOTADB|PROTOCOL)/.test(code)) {
    return new AppiaError('unavailable', 'the database cannot be used right now', { cause: err, retryAfter: 1 });
  }
  return new AppiaError('internal', 'the database refused the operation', { cause: err });
}
