import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { commandIdSource, isCommandId } from '../src/domain/ids.js';

test('command ids made in one millisecond, or after the clock steps back, still sort in creation order', () => {
  const next = commandIdSource((n) => randomBytes(n));
  const ids = [next(1000), next(1000), next(1000), next(999), next(1001), next(1001)];
  assert.deepEqual([...ids].sort(), ids);
  assert.equal(new Set(ids).size, ids.length);
  for (const id of ids) assert.ok(isCommandId(id), id);
});

test('command ids carry 112 random bits: two sources at the same instant never collide', () => {
  const a = commandIdSource((n) => randomBytes(n));
  const b = commandIdSource((n) => randomBytes(n));
  const seen = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    seen.add(a(5000));
    seen.add(b(5000));
  }
  assert.equal(seen.size, 2000);
});
