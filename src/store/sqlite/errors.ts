import Database from 'better-sqlite3';
import { AppiaError, type ErrorCode } from '../../domain/errors.js';

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

/** An error of a write as it crosses from the writer thread (structured clone keeps no classes). */
export interface WriteErrorData {
  readonly code: ErrorCode;
  readonly message: string;
  readonly retryAfter?: number;
  readonly cause?: { readonly name: string; readonly message: string; readonly code?: string };
}

/** `storeError`'s answer as plain data, for the way back from the writer thread. */
export function writeErrorData(err: unknown): WriteErrorData {
  const known = storeError(err);
  const appia = known instanceof AppiaError ? known : new AppiaError('internal', 'the database refused the operation', { cause: known });
  const cause = appia.cause instanceof Error ? (appia.cause as Error & { code?: unknown }) : undefined;
  return {
    code: appia.code,
    message: appia.message,
    ...(appia.retryAfter === undefined ? {} : { retryAfter: appia.retryAfter }),
    ...(cause
      ? { cause: { name: cause.name, message: cause.message, ...(typeof cause.code === 'string' ? { code: cause.code } : {}) } }
      : {}),
  };
}

/** The AppiaError a write failed with on the writer thread. */
export function errorFromWriteData(data: WriteErrorData): AppiaError {
  const cause = data.cause ? Object.assign(new Error(data.cause.message), { name: data.cause.name, ...(data.cause.code ? { code: data.cause.code } : {}) }) : undefined;
  return new AppiaError(data.code, data.message, { ...(cause ? { cause } : {}), ...(data.retryAfter === undefined ? {} : { retryAfter: data.retryAfter }) });
}
