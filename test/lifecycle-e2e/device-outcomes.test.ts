import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '../../src/device/index.js';
import { familyReached } from './families.js';
import { world, type World } from './helpers.js';

describe("the device's own outcomes: custom progress, executionFailed, commandDropped in standby", () => {
  let w: World;
  before(async () => {
    w = await world();
  });
  after(() => w.stop());

  const appService = (name: string, payload: object = {}) => ({ type: 'AppService', appServiceName: name, packageFamilyName: 'Contoso.Test_1', payload });

  test("progress() makes the command custom with the device's customStatus, then it completes", async () => {
    const device = await w.device();
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    let reported!: () => void;
    const bothReported = new Promise<void>((resolve) => (reported = resolve));
    const sdk = await connect({
      url: w.appia.url,
      token: device.deviceToken,
      reconnect: false,
      appServices: {
        backup: async (_command, ctx) => {
          assert.equal(await ctx.progress('copying 1 of 2'), true);
          assert.equal(await ctx.progress('copying 2 of 2'), true);
          reported(); // both are recorded: progress() resolves once the server acked it
          await finished;
          return { files: 2 };
        },
      },
    });
    try {
      const { id } = await w.create(device.id, appService('backup'));
      await w.reach(device.id, id, 'custom');
      await bothReported;
      const during = await w.get(device.id, id);
      assert.equal(during.status, 'custom');
      assert.equal(during.customStatus, 'copying 2 of 2');
      finish();
      await w.reach(device.id, id, 'completed');
      const history = await w.history(device.id, id);
      assert.deepEqual(history.map((h) => h.status), ['requesting', 'sentToTarget', 'executing', 'custom', 'custom', 'completed']);
      assert.deepEqual(history.filter((h) => h.status === 'custom').map((h) => h.detail), ['copying 1 of 2', 'copying 2 of 2']);
      assert.deepEqual((await w.get(device.id, id)).responsePayload, { files: 2 });
    } finally {
      await sdk.close();
    }
  });

  test('a handler that throws ends the command executionFailed, with its message as the error', async () => {
    const device = await w.device();
    const sdk = await connect({
      url: w.appia.url,
      token: device.deviceToken,
      reconnect: false,
      appServices: {
        format: async () => {
          throw new Error('disk is write-protected');
        },
      },
    });
    try {
      const { id } = await w.create(device.id, appService('format'));
      await w.reach(device.id, id, 'executionFailed');
      const failed = await w.get(device.id, id);
      assert.equal(failed.status, 'executionFailed');
      assert.match(failed.error, /disk is write-protected/);
      assert.equal(failed.responsePayload, null);
    } finally {
      await sdk.close();
    }
  });

  test('a device reporting failure over the protocol ends the command executionFailed with its error', async () => {
    const device = await w.device();
    const raw = await device.connect();
    const { id } = await w.create(device.id);
    await raw.command(id);
    await raw.acked({ t: 'received', id });
    await raw.acked({ t: 'progress', id, customStatus: 'opening' });
    await raw.acked({ t: 'failed', id, error: 'no browser installed' });
    const failed = await w.get(device.id, id);
    assert.equal(failed.status, 'executionFailed');
    assert.equal(failed.error, 'no browser installed');
    assert.deepEqual(await w.statuses(device.id, id), ['requesting', 'sentToTarget', 'executing', 'custom', 'executionFailed']);
  });

  test('a device in standby drops new commands (commandDropped) and shows as Standby; back active, it runs them again', async () => {
    const device = await w.device();
    const ran: string[] = [];
    const sdk = await connect({
      url: w.appia.url,
      token: device.deviceToken,
      reconnect: false,
      appServices: { ping: async (command) => (ran.push(command.id), { pong: true }) },
    });
    try {
      await sdk.standby(true);
      assert.equal((await w.appia.api(w.token, 'GET', `/beta/me/devices/${device.id}`)).body.status, 'Standby');
      const dropped = await w.create(device.id, appService('ping'));
      await w.reach(device.id, dropped.id, 'commandDropped');
      assert.deepEqual(await w.statuses(device.id, dropped.id), ['requesting', 'sentToTarget', 'commandDropped']);
      assert.deepEqual(ran, []);

      await sdk.standby(false);
      assert.equal((await w.appia.api(w.token, 'GET', `/beta/me/devices/${device.id}`)).body.status, 'Online');
      const later = await w.create(device.id, appService('ping'));
      await w.reach(device.id, later.id, 'completed');
      assert.deepEqual(ran, [later.id]);
    } finally {
      await sdk.close();
    }
  });

  familyReached('device-outcomes');
});

