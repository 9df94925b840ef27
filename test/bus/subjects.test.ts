import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { subjects } from '../../src/bus/bus.js';

// Characters NATS gives a meaning to, the '_' the empty id is written as, and any code point,
// lone surrogates included (a user id comes from a token's claim, which may hold one).
const idChar = fc.oneof(
  fc.constantFrom('.', '*', '>', ' ', '\t', '\n', '_', '-', 'a', '\uD800', '\uDC00', '\uFFFD'),
  fc.integer({ min: 0, max: 0x10ffff }).map((cp) => String.fromCodePoint(cp)),
);
const id = fc.string({ unit: idChar, maxLength: 12 });
const NATS_SAFE = /^appia\.(user|device)\.[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)?$/;

test('every id, whatever it holds, gets a subject of plain tokens: never a wildcard, never a space', () => {
  fc.assert(
    fc.property(id, (x) => {
      assert.match(subjects.user(x), NATS_SAFE);
      assert.match(subjects.device(x), NATS_SAFE);
    }),
  );
});

test('two different ids never share a subject, and a user never shares one with a device', () => {
  fc.assert(
    fc.property(id, id, (x, y) => {
      fc.pre(x !== y);
      assert.notEqual(subjects.user(x), subjects.user(y));
      assert.notEqual(subjects.device(x), subjects.device(y));
      assert.notEqual(subjects.user(x), subjects.device(y));
    }),
    { numRuns: 2000 },
  );
  // the pairs a random search could miss
  for (const [x, y] of [['', '_'], ['\uD800', '\uFFFD'], ['\uD800', '\uDC00'], ['a', 'YQ'], ['', ' ']]) {
    assert.notEqual(subjects.user(x!), subjects.user(y!), `${JSON.stringify(x)} and ${JSON.stringify(y)}`);
  }
});
