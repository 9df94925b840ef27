import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { commandIdSource, isCommandId } from '../src/domain/ids.js';
import { InProcessBus } from '../src/bus/in-process.js';

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

test('unsubscribing twice does not cut off a newer subscriber of the same subject', () => {
  const bus = new InProcessBus();
  const first = bus.subscribe('s', () => {});
  first.unsubscribe();
  const got: string[] = [];
  bus.subscribe('s', (m) => got.push(m.kind));
  first.unsubscribe();
  bus.publish('s', { kind: 'deviceRemoved', deviceId: 'd' });
  assert.deepEqual(got, ['deviceRemoved']);
});
