import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decidePoll, formatUserCode, normalizeUserCode, userCodeFrom, type PairingState } from '../../src/domain/pairing.js';

/** DESIGN 10, the pure part: how a user code is read and made, and what each poll finds. */

test('a user code is read without regard to case, dashes or spaces; anything not 8 letters of the alphabet is no code', () => {
  for (const given of ['BCDF-GHJK', 'bcdfghjk', ' bcdf - ghjk ', 'Bc-Df-Gh-Jk']) assert.equal(normalizeUserCode(given), 'BCDFGHJK', given);
  for (const given of ['', 'BCDF-GHJ', 'BCDF-GHJKL', 'BCDF-GHJA', 'BCDF-GHJ1', 'BCDF_GHJK', 'ВCDF-GHJK']) assert.equal(normalizeUserCode(given), undefined, given);
  assert.equal(formatUserCode('BCDFGHJK'), 'BCDF-GHJK');
});

test('a user code is drawn uniformly: bytes past the last whole round of the alphabet are skipped, not folded', () => {
  const bytes = [255, 240, 0, 19, 20, 239, 1, 2, 3, 4, 5];
  let at = 0;
  const code = userCodeFrom((n) => Uint8Array.from({ length: n }, () => bytes[at++ % bytes.length]!));
  // 255 and 240 are skipped; 0 -> B, 19 -> Z, 20 -> B, 239 -> Z (239 % 20 = 19), 1 -> C, 2 -> D, 3 -> F, 4 -> G
  assert.equal(code, 'BZBZCDFG');
});

test('every state of a pairing meets every kind of poll as the table says', () => {
  const at = 100_000;
  const row = (state: PairingState, over: Partial<{ expiresAt: number; lastPolledAt: number | null }> = {}) => ({
    state,
    expiresAt: at + 60_000,
    intervalMs: 5000,
    lastPolledAt: at - 10_000,
    deviceId: state === 'pending' ? null : 'd1',
    ...over,
  });
  const kinds = (state: PairingState) => ({
    inTime: decidePoll(row(state), at)?.outcome.kind,
    tooSoon: decidePoll(row(state, { lastPolledAt: at - 1000 }), at)?.outcome.kind,
    expired: decidePoll(row(state, { expiresAt: at }), at)?.outcome.kind,
  });
  assert.deepEqual(kinds('pending'), { inTime: 'pending', tooSoon: 'slowDown', expired: 'expired' });
  assert.deepEqual(kinds('approved'), { inTime: 'issued', tooSoon: 'slowDown', expired: 'expired' });
  assert.deepEqual(kinds('denied'), { inTime: 'denied', tooSoon: 'denied', expired: 'denied' });
  assert.deepEqual(kinds('collected'), { inTime: 'collected', tooSoon: 'collected', expired: 'collected' });
  assert.equal(decidePoll(undefined, at), undefined);

  assert.deepEqual(decidePoll(row('approved'), at), { outcome: { kind: 'issued', deviceId: 'd1' }, intervalMs: 5000, state: 'collected' });
  assert.deepEqual(decidePoll(row('pending', { lastPolledAt: at - 1000 }), at), { outcome: { kind: 'slowDown', intervalMs: 10_000 }, intervalMs: 10_000, state: 'pending' });
  // the slack: a poll a fifth of the interval early (at most 1 s) is in time, a little more is not
  assert.equal(decidePoll(row('pending', { lastPolledAt: at - 4000 }), at)?.outcome.kind, 'pending');
  assert.equal(decidePoll(row('pending', { lastPolledAt: at - 3999 }), at)?.outcome.kind, 'slowDown');
  assert.equal(decidePoll(row('pending', { lastPolledAt: null }), at)?.outcome.kind, 'pending', 'the first poll is never too soon');
});
