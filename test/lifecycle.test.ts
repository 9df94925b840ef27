import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EVENTS, TABLE, transition } from '../src/domain/lifecycle.js';
import { FINAL_STATUSES, isFinal } from '../src/domain/policy.js';
import { STATUSES } from '../src/domain/status.js';

/**
 * DESIGN 3, written out once more by hand as (from, event) -> to, so that
 * the table in src/ is checked against an independent reading of the
 * contract. Every pair not listed here must be refused.
 */
const nonFinal = STATUSES.filter((s) => !isFinal(s));
const expected = new Map<string, string>();
const allow = (froms: readonly string[], event: string, to: string) => {
  for (const from of froms) expected.set(`${from} ${event}`, to);
};
allow(['requesting', 'retry'], 'sent', 'sentToTarget');
allow(['requesting', 'sentToTarget'], 'deliveryFailed', 'retry');
allow(['requesting', 'retry'], 'attemptsExhausted', 'failedToSend');
allow(['requesting', 'retry'], 'deviceRemoved', 'failedToSend');
allow(['sentToTarget'], 'received', 'executing');
allow(['sentToTarget', 'executing', 'custom'], 'progress', 'custom');
allow(['sentToTarget', 'executing', 'custom', 'cancel', 'cancelling'], 'completed', 'completed');
allow(['sentToTarget', 'executing', 'custom', 'cancel', 'cancelling'], 'failed', 'executionFailed');
allow(['sentToTarget', 'executing'], 'dropped', 'commandDropped');
allow(['requesting', 'sentToTarget', 'executing', 'custom', 'retry'], 'cancelRequested', 'cancel');
allow(['cancel'], 'cancelUndelivered', 'canceled');
allow(['cancel'], 'cancelSent', 'cancelling');
allow(['cancelling'], 'canceledByDevice', 'canceled');
allow(['cancelling'], 'cancelTimedOut', 'canceled');
allow(['sentToTarget', 'executing', 'custom', 'cancel', 'cancelling'], 'deviceRemoved', 'canceled');
allow(nonFinal, 'expire', 'expired');
allow(nonFinal, 'fault', 'error');

test('the lifecycle has the seed\'s 14 statuses, 7 of them final', () => {
  assert.equal(STATUSES.length, 14);
  assert.equal(new Set(STATUSES).size, 14);
  assert.deepEqual([...FINAL_STATUSES].sort(), ['canceled', 'commandDropped', 'completed', 'error', 'executionFailed', 'expired', 'failedToSend']);
  assert.deepEqual(Object.keys(TABLE).sort(), [...STATUSES].sort());
});

for (const from of STATUSES) {
  for (const event of EVENTS) {
    const want = expected.get(`${from} ${event}`);
    test(`${from} + ${event} -> ${want ?? 'refused'}`, () => {
      const result = transition(from, event);
      if (want === undefined) {
        assert.equal(result.ok, false, `expected ${from} + ${event} to be refused`);
        if (!result.ok) assert.match(result.reason, new RegExp(from));
      } else {
        assert.deepEqual(result, { ok: true, from, to: want });
      }
    });
  }
}

test('a final status never changes, whatever happens', () => {
  for (const from of FINAL_STATUSES) {
    for (const event of EVENTS) {
      const result = transition(from, event);
      assert.equal(result.ok, false);
      if (!result.ok) assert.match(result.reason, /final/);
    }
  }
});

test('a repeated cancel request is not a second change', () => {
  assert.equal(transition('cancel', 'cancelRequested').ok, false);
  assert.equal(transition('cancelling', 'cancelRequested').ok, false);
});
