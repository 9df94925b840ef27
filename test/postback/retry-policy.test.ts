// DESIGN 6: exponential backoff with jitter, Retry-After honoured, given up after at least 24 h.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { nextAttempt, POSTBACK_RETRY } from '../../src/postback/retry-policy.js';

const T = Date.UTC(2026, 0, 1);
const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;
const fixed = (r: number) => () => r;

describe('when a failed postback is tried again', () => {
  test('the backoff starts at about 1 s and doubles, with equal jitter between half and all of it, capped at 10 min', () => {
    const rows: [attempts: number, random: number, delay: number][] = [
      [1, 0, 500], [1, 0.999999, 1000], [1, 0.5, 750],
      [2, 0, 1000], [2, 0.999999, 2000],
      [3, 0, 2000], [5, 0.5, 12_000],
      [10, 0, 256_000], [10, 0.999999, 512_000],
      [11, 0, 300_000], [11, 0.999999, 600_000], // 1024 s capped at 600 s
      [50, 0.999999, 600_000], [10_000, 0.5, 450_000],
    ];
    for (const [attempts, random, delay] of rows) {
      assert.deepEqual(nextAttempt({ attempts, firstAttemptAt: T, now: T + MIN, random: fixed(random) }), { retryAt: T + MIN + delay }, `attempt ${attempts}, random ${random}`);
    }
  });

  test('a receiver\'s Retry-After is honoured: never sooner than it asks, at most 1 h', () => {
    const rows: [attempts: number, retryAfterMs: number, delay: number][] = [
      [1, 30 * S, 30 * S], // longer than the backoff: as asked
      [1, 0, 500], [8, 2 * S, 64_000], // shorter than the backoff: the backoff
      [1, 10 * H, H], [1, Infinity, H], // clamped
      [1, -5 * S, 500], [1, NaN, 500],
    ];
    for (const [attempts, retryAfterMs, delay] of rows) {
      assert.deepEqual(nextAttempt({ attempts, firstAttemptAt: T, now: T, retryAfterMs, random: fixed(0) }), { retryAt: T + delay }, `Retry-After ${retryAfterMs}`);
    }
  });

  test('an entry is retried until 24 h have passed since its first attempt, then given up', () => {
    const at = (elapsed: number) => nextAttempt({ attempts: 140, firstAttemptAt: T, now: T + elapsed, random: fixed(0.5) });
    assert.ok('retryAt' in at(23 * H + 59 * MIN));
    assert.deepEqual(at(24 * H), { giveUp: true });
    assert.deepEqual(at(30 * H), { giveUp: true });
  });

  test('a receiver down for a day gets retries for at least 24 h, never more than 10 min apart, then the entry is given up', () => {
    let now = T;
    let attempts = 0;
    let longestGap = 0;
    for (;;) {
      attempts++;
      const next = nextAttempt({ attempts, firstAttemptAt: T, now, random: Math.random });
      if ('giveUp' in next) break;
      longestGap = Math.max(longestGap, next.retryAt - now);
      now = next.retryAt;
    }
    assert.ok(now - T >= POSTBACK_RETRY.giveUpAfterMs, 'the last attempt came 24 h or more after the first');
    assert.ok(now - T < POSTBACK_RETRY.giveUpAfterMs + POSTBACK_RETRY.capMs, 'and not a backoff later than that');
    assert.ok(longestGap <= POSTBACK_RETRY.capMs);
    assert.ok(attempts > 100 && attempts < 400, `${attempts} attempts in a day`);
  });

  test('attempts below 1 is a programming error', () => {
    assert.throws(() => nextAttempt({ attempts: 0, firstAttemptAt: T, now: T, random: Math.random }), RangeError);
  });
});
