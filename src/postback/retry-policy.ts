/** When a failed postback is tried again (DESIGN 6). Pure: the clock and randomness are passed in. */
export interface PostbackRetryPolicy {
  /** the backoff after the first failed attempt, before jitter */
  readonly baseMs: number;
  /** the longest backoff, before jitter */
  readonly capMs: number;
  /** the longest a receiver's `Retry-After` can hold an entry back */
  readonly maxRetryAfterMs: number;
  /** an entry is given up once it has been tried for this long (DESIGN 6: "for at least 24 h") */
  readonly giveUpAfterMs: number;
}

export const POSTBACK_RETRY: PostbackRetryPolicy = Object.freeze({
  baseMs: 1000,
  capMs: 10 * 60 * 1000,
  maxRetryAfterMs: 3600 * 1000,
  giveUpAfterMs: 24 * 3600 * 1000,
});

export type NextAttempt = { readonly retryAt: number } | { readonly giveUp: true };

/**
 * What to do after a failed attempt: retry at `retryAt`, or give up.
 * The backoff doubles from `baseMs` (1 s) up to `capMs` (10 min) with equal
 * jitter (half fixed, half random, so retries of many entries spread out but
 * never come sooner than half the backoff). A receiver's `Retry-After`
 * (clamped to 1 h) is honoured: the retry is never sooner than it asks.
 * Once `now` is 24 h past the first attempt the entry is given up; so an
 * entry is always retried for at least 24 h.
 *
 * @example
 * nextAttempt({ attempts: 1, firstAttemptAt: t, now: t, random: Math.random }); // { retryAt: t + 500..1000 }
 * nextAttempt({ attempts: 150, firstAttemptAt: t, now: t + 86_400_000, random: Math.random }); // { giveUp: true }
 */
export function nextAttempt(
  input: {
    /** attempts made so far, the failed one included (1 after the first failure) */
    readonly attempts: number;
    /** when the entry was first attempted */
    readonly firstAttemptAt: number;
    readonly now: number;
    /** the receiver's Retry-After, in ms, when it sent one */
    readonly retryAfterMs?: number | undefined;
    /** a number in [0, 1), like Math.random */
    readonly random: () => number;
  },
  policy: PostbackRetryPolicy = POSTBACK_RETRY,
): NextAttempt {
  const { attempts, firstAttemptAt, now, retryAfterMs, random } = input;
  if (!Number.isInteger(attempts) || attempts < 1) throw new RangeError(`attempts must be a whole number of at least 1 (got ${attempts})`);
  if (now - firstAttemptAt >= policy.giveUpAfterMs) return { giveUp: true };
  // 2 ** 40 already exceeds any cap; the exponent is bounded so the product stays finite.
  const backoff = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempts - 1, 40));
  const jittered = Math.round(backoff / 2 + random() * (backoff / 2));
  const asked = retryAfterMs === undefined || Number.isNaN(retryAfterMs) ? 0 : Math.min(Math.max(retryAfterMs, 0), policy.maxRetryAfterMs);
  return { retryAt: now + Math.max(jittered, Math.round(asked)) };
}
