import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '../../src/device/index.js';
import { familyReached } from './families.js';
import { world, type World } from './helpers.js';

describe('delivery: requesting -> sentToTarget -> executing -> completed', () => {
  let w: World;
  before(async () => {
    w = await world();
  });
  after(() => w.stop());

  test('a command to a connected device is written to it, received, and completed with its answer', async () => {
    const device = await w.device();
    const raw = await device.connect();
    const created = await w.create(device.id, { type: 'AppService', appServiceName: 'lock', packageFamilyName: 'Contoso.Lock_1', payload: { level: 3 } });
    // the device is connected here and idle: the create records it sent in its own transaction and answers so
    assert.equal(created.status, 'sentToTarget');

    const frame = await raw.command(created.id);
    assert.deepEqual(frame.command.payload, { level: 3 });
    await w.reach(device.id, created.id, 'sentToTarget');

    await raw.acked({ t: 'received', id: created.id });
    assert.equal((await w.get(device.id, created.id)).status, 'executing');

    await raw.acked({ t: 'completed', id: created.id, responsePayload: { locked: true } });
    const done = await w.get(device.id, created.id);
    assert.equal(done.status, 'completed');
    assert.deepEqual(done.responsePayload, { locked: true });
    const answer = await w.appia.api(w.token, 'GET', `/beta/me/devices/${device.id}/commands/${created.id}/responsePayload`);
    assert.equal(answer.status, 200);
    assert.equal(answer.body.locked, true);
    assert.deepEqual(await w.statuses(device.id, created.id), ['requesting', 'sentToTarget', 'executing', 'completed']);
  });

  test('a command to an offline device waits as requesting, and runs when the device connects with the SDK', async () => {
    const device = await w.device();
    const created = await w.create(device.id, { type: 'LaunchUri', payload: { uri: 'https://example.com/welcome' } });
    assert.equal((await w.get(device.id, created.id)).status, 'requesting');

    const opened: string[] = [];
    const sdk = await connect({
      url: w.appia.url,
      token: device.deviceToken,
      reconnect: false,
      handlers: { LaunchUri: async (command) => (opened.push(String(command.payload?.['uri'])), { opened: true }) },
    });
    try {
      await w.reach(device.id, created.id, 'completed');
      assert.deepEqual(opened, ['https://example.com/welcome']);
      assert.deepEqual((await w.get(device.id, created.id)).responsePayload, { opened: true });
      assert.deepEqual(await w.statuses(device.id, created.id), ['requesting', 'sentToTarget', 'executing', 'completed']);
    } finally {
      await sdk.close();
    }
  });

  familyReached('delivery');
});
