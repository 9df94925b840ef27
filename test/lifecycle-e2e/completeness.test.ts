import { test } from 'node:test';
import assert from 'node:assert/strict';
import { STATUSES } from '../../src/domain/status.js';
import { FAMILIES } from './families.js';

test('the lifecycle stories together reach all 14 statuses of the lifecycle, each in exactly one family', () => {
  const covered = Object.values(FAMILIES).flat();
  assert.equal(covered.length, new Set(covered).size, 'a status is claimed by two families');
  assert.deepEqual([...covered].sort(), [...STATUSES].sort());
  assert.equal(covered.length, 14);
});
