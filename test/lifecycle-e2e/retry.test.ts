import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { familyReached } from './families.js';
import { world, type World } from './helpers.js';

describe('retry and failedToSend: receipt timeout, backoff, attempts, removal', () => {
  let w: World;
  before(async () => {
    // FAST: receipt timeout 300 ms, backoff from 50 ms, 3 attempts
    w = await world();
  });
  after(() => w.stop());

  test('with no receipt in time the command goes to retry, and the next attempt reaches the device', async () => {
    const device = await w.device();
    const raw = await device.connect();
    const { id } = await w.create(device.id);
    await raw.command(id); // the first attempt: the device keeps quiet

    await w.reach(device.id, id, 'retry');
    await raw.command(id); // the second attempt, after the backoff
    await raw.acked({ t: 'received', id });

    const history = await w.history(device.id, id);
    assert.deepEqual(history.map((h) => h.status), ['requesting', 'sentToTarget', 'retry', 'sentToTarget', 'executing']);
    assert.match(history[2]!.detail ?? '', /receipt timeout/);
  });

  test('when every attempt goes unanswered it ends failedToSend, after recording the last retry', async () => {
    const device = await w.device();
    const raw = await device.connect();
    const { id } = await w.create(device.id);
    for (let attempt = 1; attempt <= 3; attempt++) await raw.command(id);

    await w.reach(device.id, id, 'failedToSend');
    const history = await w.history(device.id, id);
    assert.deepEqual(history.map((h) => h.status), ['requesting', 'sentToTarget', 'retry', 'sentToTarget', 'retry', 'sentToTarget', 'retry', 'failedToSend']);
    assert.match(history.at(-1)!.detail ?? '', /3 delivery attempts failed/);
    // a final command is not delivered again
    await assert.rejects(raw.command(id, 600));
  });

  test('a device that drops off before its receipt gets the command again on reconnect, without losing attempts while away', async () => {
    const device = await w.device();
    let raw = await device.connect();
    const { id } = await w.create(device.id);
    await raw.command(id);
    raw.close(); // the connection drops before the receipt

    await w.reach(device.id, id, 'retry');
    // Several backoffs pass while the device is away. Were each of them an
    // attempt, the 3 allowed would be used up and the command failedToSend.
    await delay(1_000);
    assert.equal((await w.get(device.id, id)).status, 'retry');

    raw = await device.connect();
    await raw.command(id);
    await raw.acked({ t: 'received', id });
    assert.deepEqual(await w.statuses(device.id, id), ['requesting', 'sentToTarget', 'retry', 'sentToTarget', 'executing']);
  });

  test('a command whose device is removed before delivery ends failedToSend', async () => {
    const device = await w.device();
    const { id } = await w.create(device.id); // the device never connected
    const removed = await w.appia.api(w.token, 'DELETE', `/beta/me/devices/${device.id}`);
    assert.equal(removed.status, 204);
    const history = await w.history(device.id, id);
    assert.deepEqual(history.map((h) => h.status), ['requesting', 'failedToSend']);
    assert.match(history[1]!.detail ?? '', /removed/);
  });

  test('a command waiting in retry when its device is removed ends failedToSend too', async () => {
    const device = await w.device();
    const raw = await device.connect();
    const { id } = await w.create(device.id);
    await raw.command(id);
    raw.close();
    await w.reach(device.id, id, 'retry');
    assert.equal((await w.appia.api(w.token, 'DELETE', `/beta/me/devices/${device.id}`)).status, 204);
    assert.deepEqual(await w.statuses(device.id, id), ['requesting', 'sentToTarget', 'retry', 'failedToSend']);
  });

  familyReached('retry');
});
