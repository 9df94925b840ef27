import { COMMAND_COLUMNS } from '../sql-shared.js';

/**
 * The history feed's lock (DESIGN 2: SSE resumes after an event id; the
 * Store contract: the feed is gap-free).
 *
 * Identity values are handed out when a row is inserted, not when it
 * commits: a transaction holding history id 10 may commit after one holding
 * 11, and a reader that saw 11 and resumes "after 11" would miss 10 forever.
 * (Keeping only rows of transactions older than the snapshot's xmin is not
 * enough: a transaction with a lower xid can draw the higher id.) So every
 * transaction that writes history takes a shared advisory lock on its user's
 * feed before it draws an id, and holds it to its end; a reader of the feed
 * takes the same lock exclusively before its snapshot. The reader thus waits
 * for exactly the writers that already drew ids, and every writer after it
 * draws a higher id than any it sees: what it returns has no hole that could
 * later fill. Writers of one user share the lock and never wait for each
 * other; other users' writers and readers never meet it.
 *
 * A writer takes it after its row locks, or before all of them (a chain of
 * several changes), never in between: then a writer that holds it waits for
 * nothing but its own commit, and a reader queued for it cannot close a cycle.
 */
const FEED_KEY = (userId: string) => `hashtextextended('appia feed ' || current_schema() || ' ' || ${userId}, 0)`;

/** a select-list item that takes the shared feed lock of `userId` (an SQL expression) */
export const FEED_LOCK_SHARED = (userId: string) => `pg_advisory_xact_lock_shared(${FEED_KEY(userId)})`;

/** the reader's lock, $1 the user: in the reading transaction, before its snapshot */
export const LOCK_FEED_FOR_READING = `SELECT pg_advisory_xact_lock(${FEED_KEY('$1')})`;

/**
 * The command as JSON text of its CommandRecord, from a row that has
 * COMMAND_COLUMNS' aliases (the postback's `recordJson`): built in the
 * statement that changes the command, so the outbox entry needs no second
 * round trip.
 */
export const RECORD_JSON = `json_build_object(${COMMAND_COLUMNS.split(', ')
  .map((column) => {
    const name = column.includes(' AS ') ? column.slice(column.indexOf('"') + 1, -1) : column;
    return `'${name}', "${name}"`;
  })
  .join(', ')})::text`;
