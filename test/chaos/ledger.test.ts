import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { check, Ledger, type Stored } from '../../chaos/ledger.js';
import type { Delivered } from '../../chaos/receiver.js';

// `npm run chaos` is only as good as its checks: each broken promise below must fail the run.

async function ledgerWith(lines: string[]): Promise<{ ledger: Ledger; done: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'appia-chaos-ledger-'));
  const file = join(dir, 'devices.log');
  await writeFile(file, lines.map((l) => `${l}\n`).join(''));
  const ledger = new Ledger();
  ledger.files.push(file);
  return { ledger, done: () => rm(dir, { recursive: true, force: true }) };
}

const completed = (nonce: string): Stored => ({ status: 'completed', responsePayload: { nonce } });
const postbacks = (...steps: [number, string][]): Delivered[] => steps.map(([sequence, status]) => ({ sequence, status }));

test('a run where every promise held passes, repeats of a postback allowed', async () => {
  const { ledger, done } = await ledgerWith(['run A 10-1', 'acked A completed 10-1', 'cut after-result']);
  ledger.accepted.set('A', { deviceId: 'd', postback: true });
  const v = check(ledger, new Map([['A', completed('10-1')]]), new Map([['A', postbacks([1, 'requesting'], [2, 'sentToTarget'], [2, 'sentToTarget'], [3, 'executing'], [4, 'completed'])]]));
  assert.deepEqual(v.failures, []);
  assert.equal(v.final, 1);
  assert.equal(v.postbacksRepeated, 1);
  assert.equal(v.cuts.get('after-result'), 1);
  await done();
});

test('a command answered 201 that is missing or still open is lost', async () => {
  const { ledger, done } = await ledgerWith([]);
  ledger.accepted.set('A', { deviceId: 'd', postback: false });
  ledger.accepted.set('B', { deviceId: 'd', postback: false });
  const v = check(ledger, new Map([['B', { status: 'retry', responsePayload: null }]]), new Map());
  assert.equal(v.lost, 2);
  assert.equal(v.failures.length, 2);
  await done();
});

test('a handler that ran twice fails the run unless the first run’s device process was killed', async () => {
  const { ledger, done } = await ledgerWith(['run A 10-1', 'run A 10-2', 'run B 11-1', 'run B 12-1']);
  ledger.killedPids.add(11);
  for (const id of ['A', 'B']) ledger.accepted.set(id, { deviceId: 'd', postback: false });
  const v = check(ledger, new Map([['A', completed('10-2')], ['B', completed('12-1')]]), new Map());
  assert.equal(v.duplicateRuns, 2);
  assert.equal(v.duplicatesAfterKill, 1);
  assert.equal(v.failures.length, 1);
  assert.match(v.failures[0]!, /command A ran twice|handler of command A ran twice/);
  await done();
});

test('an acked result that is not the stored one fails the run', async () => {
  const { ledger, done } = await ledgerWith(['acked A completed 10-1', 'acked B failed -']);
  for (const id of ['A', 'B']) ledger.accepted.set(id, { deviceId: 'd', postback: false });
  const v = check(ledger, new Map([['A', completed('10-9')], ['B', completed('10-3')]]), new Map());
  assert.equal(v.failures.length, 2);
  await done();
});

test('a gap, a reordering or a missing last postback fails the run', async () => {
  const { ledger, done } = await ledgerWith([]);
  for (const id of ['A', 'B', 'C']) ledger.accepted.set(id, { deviceId: 'd', postback: true });
  const stored = new Map([['A', completed('x')], ['B', completed('x')], ['C', completed('x')]]);
  const v = check(ledger, stored, new Map([
    ['A', postbacks([1, 'requesting'], [3, 'executing'], [4, 'completed'])],
    ['B', postbacks([2, 'sentToTarget'], [1, 'requesting'])],
    ['C', postbacks([1, 'requesting'], [2, 'sentToTarget'], [3, 'executing'])],
  ]));
  assert.equal(v.failures.length, 3);
  await done();
});
