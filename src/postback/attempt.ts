import type { CommandRecord } from '../domain/command.js';
import type { PostbackEntry, PostbackOutcome } from '../core/postbacks.js';
import { commandJson } from '../http/representation.js';
import { nextAttempt, type PostbackRetryPolicy } from './retry-policy.js';
import type { SendOutcome } from './sender.js';

/**
 * A postback's body (DESIGN 6): the command as the API shows it, as the
 * change left it, plus `sequence` (1, 2, 3, ... per command). The same text
 * on every retry of the entry.
 *
 * @example
 * postbackBody(entry); // '{"id":"01A2...","status":"completed",...,"sequence":4}'
 */
export function postbackBody(entry: Pick<PostbackEntry, 'recordJson' | 'sequence'>): string {
  return commandJson(JSON.parse(entry.recordJson) as CommandRecord, { sequence: entry.sequence });
}

/**
 * What one attempt's result means for its entry (DESIGN 6; docs/decisions.md,
 * Postbacks): delivered; or pending until the retry policy's next time
 * (backoff with jitter, `Retry-After` honoured); or given up, once the entry
 * has been tried for the policy's 24 h, or at once when the sender says
 * another attempt cannot help. Giving up carries the note the store appends
 * to the history entry the postback reported.
 *
 * @example
 * postbackOutcome(entry, { delivered: false, status: 500, error: 'HTTP 500 (Internal Server Error)', retry: true },
 *   { at, endedAt, random: Math.random, retry: POSTBACK_RETRY });
 * // { state: 'pending', nextAttemptAt: endedAt + 500..1000, ... } on a first failure
 */
export function postbackOutcome(
  entry: Pick<PostbackEntry, 'sequence' | 'attempts' | 'firstAttemptAt'>,
  sent: SendOutcome,
  clock: { readonly at: number; readonly endedAt: number; readonly random: () => number; readonly retry: PostbackRetryPolicy },
): PostbackOutcome {
  const { at, endedAt } = clock;
  if (sent.delivered) return { state: 'delivered', at, responseStatus: sent.status };
  const responseStatus = sent.status ?? null;
  const attempts = entry.attempts + 1;
  const firstAttemptAt = entry.firstAttemptAt ?? at;
  const next = sent.retry
    ? nextAttempt({ attempts, firstAttemptAt, now: endedAt, retryAfterMs: sent.retryAfterMs, random: clock.random }, clock.retry)
    : ({ giveUp: true } as const);
  if ('retryAt' in next) return { state: 'pending', at, responseStatus, error: sent.error, nextAttemptAt: next.retryAt };
  const last = sent.status === undefined ? sent.error.slice(0, 200) : `HTTP ${sent.status}`;
  const tried = `${attempts} ${attempts === 1 ? 'attempt' : 'attempts'}`;
  const historyNote = sent.retry
    ? `postback ${entry.sequence} given up after ${tried} over ${span(endedAt - firstAttemptAt)} (last: ${last})`
    : `postback ${entry.sequence} given up after ${tried}: another attempt cannot help (last: ${last})`;
  return { state: 'failed', at, responseStatus, error: sent.error, historyNote };
}

/** a duration as a person says it: "40 s", "12 min", "24 h" */
function span(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.floor(ms / 3_600_000)} h`;
}
