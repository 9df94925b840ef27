import { AppiaError } from '../../domain/errors.js';

/**
 * PostgreSQL's and node-postgres' errors in the catalogue's terms. The
 * messages are ours: the driver's error (which may quote SQL, values or
 * server text) travels only as `cause`, so nothing of the database reaches
 * an HTTP client.
 */

/** seconds a client is told to wait when the database is unreachable (DESIGN 2: 503 with Retry-After) */
export const RETRY_AFTER_S = 1;

interface DriverError {
  readonly code?: unknown;
  readonly message?: unknown;
  /** set on the server's errors (node-postgres' DatabaseError), never on a socket's */
  readonly severity?: unknown;
}

/** SQLSTATEs that mean "the database cannot serve now, try again" rather than "this request is wrong" */
function isTransientState(state: string): boolean {
  // 08: connection exceptions (08P01 is a protocol violation: our fault, not an outage)
  if (state.startsWith('08')) return state !== '08P01';
  // 53: out of resources (too many connections, disk full, out of memory)
  if (state.startsWith('53')) return true;
  return [
    '57P01', // admin_shutdown: the server is stopping, or our backend was terminated
    '57P02', // crash_shutdown
    '57P03', // cannot_connect_now: starting up or in recovery
    '57014', // query_canceled: a statement timeout
    '55P03', // lock_not_available: a lock timeout
    '40001', // serialization_failure
    '40P01', // deadlock_detected
    '25006', // read_only_sql_transaction: a standby answered
  ].includes(state);
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** node-postgres' own connection errors carry no code, only these messages */
const DRIVER_CONNECTION_MESSAGE = /connection terminated|not queryable|timeout exceeded when trying to connect|connection timeout/i;

/** the SQLSTATE of an error the server sent ('EPIPE' also has five capitals: the severity tells them apart) */
function sqlState(err: DriverError): string | undefined {
  return typeof err.severity === 'string' && typeof err.code === 'string' ? err.code : undefined;
}

/** the database could not be reached or went away (as opposed to refusing a statement) */
export function isUnavailable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as DriverError;
  const state = sqlState(e);
  if (state !== undefined) return isTransientState(state);
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return true;
  return typeof e.message === 'string' && DRIVER_CONNECTION_MESSAGE.test(e.message);
}

/**
 * A connection the pool handed out turned out to be dead (its backend was
 * terminated, or the server restarted while it sat idle). Unlike a failure to
 * connect, trying again on another connection is likely to work at once.
 */
export function isLostConnection(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as DriverError;
  const state = sqlState(e);
  if (state !== undefined) return state === '57P01' || state === '57P02' || state === '08006' || state === '08003';
  if (e.code === 'ECONNRESET' || e.code === 'EPIPE') return true;
  return typeof e.message === 'string' && /connection terminated unexpectedly|not queryable/i.test(e.message);
}

/** Any error of a store operation, as an AppiaError. Our own errors pass unchanged. */
export function storeError(err: unknown): AppiaError {
  if (err instanceof AppiaError) return err;
  if (isUnavailable(err)) {
    return new AppiaError('unavailable', 'the database is unreachable', { cause: err, retryAfter: RETRY_AFTER_S });
  }
  if (typeof err === 'object' && err !== null && sqlState(err as DriverError) === '23505') {
    return new AppiaError('conflict', 'already stored', { cause: err });
  }
  return new AppiaError('internal', 'the database refused the operation', { cause: err });
}

/** the URL as it may be printed: without its password */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    return parsed.toString();
  } catch {
    return '(a database URL that cannot be parsed)';
  }
}

/** What went wrong when the store could not start, in one line for an operator. */
export function startupFailure(url: string, err: unknown): Error {
  return new Error(`PostgreSQL at ${displayUrl(url)} cannot be used: ${startupReason(err)}`, { cause: err });
}

function startupReason(err: unknown): string {
  const e = (typeof err === 'object' && err !== null ? err : {}) as DriverError;
  const message = typeof e.message === 'string' ? e.message : String(err);
  switch (e.code) {
    case 'ECONNREFUSED':
      return 'nothing accepts connections there (connection refused)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'its host name does not resolve';
    case 'ETIMEDOUT':
      return 'connecting timed out';
    case '28P01':
    case '28000':
      return `the server refused the login (${message})`;
    case '3D000':
      return `the database does not exist (${message})`;
    case '42501':
      return `the user may not create the schema or its tables (${message})`;
    case '53300':
      return 'the server has no connection slots left';
    case '57P03':
      return 'the server is starting up or shutting down';
    default:
      return DRIVER_CONNECTION_MESSAGE.test(message) ? 'connecting timed out or the server closed the connection' : message;
  }
}
