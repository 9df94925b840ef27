import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { InProcessBus } from '../../src/bus/in-process.js';
import { Engine, type EngineTimings } from '../../src/service/engine.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/store.js';

const timings: EngineTimings = {
  receiptTimeoutMs: 60_000,
  retryBaseMs: 1_000,
  maxAttempts: 10,
  cancelTimeoutMs: 60_000,
  defaultTtlMs: 60_000,
  maxOpenCommands: 0,
};

// The engine's in-flight predictions: a change queued but not yet committed
// is decided upon by the next one; the compare-and-set keeps that correct.
describe('engine: pipelined changes', () => {
  let store: SqliteStore;
  let engine: Engine;
  const user = `user-${randomUUID()}`;
  let deviceId: string;

  before(async () => {
    store = openSqliteStore({ path: ':memory:' });
    engine = new Engine({ store, bus: new InProcessBus(), timings });
    deviceId = randomUUID();
    await store.createDevice({ id: deviceId, userId: user, name: 'd', kind: null, platform: null, model: null, manufacturer: null, tokenHash: randomBytes(16).toString('hex'), createdAt: Date.now() });
  });
  after(() => store.close());

  async function sentCommand(): Promise<string> {
    const input = { type: 'LaunchUri' as const, payloadJson: '{"uri":"https://e.test/"}', appServiceName: null, packageFamilyName: null, permissionTicket: null, postBackUri: null };
    const { command } = await engine.createCommand(user, deviceId, input);
    const sent = await engine.apply(command.id, 'sent', {});
    assert.equal(sent.ok && sent.command.status, 'sentToTarget');
    return command.id;
  }

  test('a second change is decided on the first one before it commits, and both land', async () => {
    const id = await sentCommand();
    const known = await engine.current(id);
    const first = engine.tryApply('received', {}, known!);
    // queued, not committed: the store still says sentToTarget
    assert.equal(engine.predicted(id)?.status, 'executing');
    assert.equal((await store.getCommandById(id))?.status, 'sentToTarget');
    assert.equal((await engine.current(id))?.status, 'executing');
    const second = engine.apply(id, 'completed', { responsePayloadJson: '{"n":1}' });
    assert.equal(engine.predicted(id)?.status, 'completed');
    const [a, b] = await Promise.all([first, second]);
    assert.equal(a?.ok && a.command.status, 'executing');
    assert.equal(b.ok && b.command.status, 'completed');
    assert.equal(engine.predicted(id), undefined, 'the prediction is dropped once committed');
    assert.deepEqual((await store.listHistory(id)).map((h) => h.status), ['requesting', 'sentToTarget', 'executing', 'completed']);
  });

  test('when the first change loses its compare-and-set, the one decided on it loses too and is re-decided', async () => {
    const id = await sentCommand();
    const known = (await store.getCommandById(id))!;
    // another writer (the receipt timeout) gets in first, in the same batch
    const timeout = store.transitionCommand({ commandId: id, from: 'sentToTarget', to: 'retry', at: Date.now(), detail: 'no receipt', dueAt: Date.now() + 60_000 });
    const first = engine.tryApply('received', {}, known);
    const second = engine.tryApply('completed', { responsePayloadJson: '{}' }, engine.predicted(id)!);
    assert.ok(await timeout);
    assert.equal(await first, undefined, 'lost');
    assert.equal(await second, undefined, 'lost as well: it was decided on the first');
    assert.equal(engine.predicted(id), undefined);
    const redecided = await engine.apply(id, 'completed', { responsePayloadJson: '{}' });
    assert.equal(redecided.ok, false);
    assert.equal(redecided.command?.status, 'retry');
    assert.deepEqual((await store.listHistory(id)).map((h) => h.status), ['requesting', 'sentToTarget', 'retry']);
  });
});
