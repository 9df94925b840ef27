import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '../../src/device/index.js';
import { familyReached } from './families.js';
import { world, type World } from './helpers.js';

describe('cancel: cancel -> canceled, or cancel -> cancelling -> canceled; the device may finish first', () => {
  let w: World;
  before(async () => {
    // FAST: cancel timeout 300 ms
    w = await world();
  });
  after(() => w.stop());

  const cancel = (deviceId: string, id: string) => w.appia.api(w.token, 'POST', `/beta/me/devices/${deviceId}/commands/${id}/cancel`);

  test('a command that has not reached its device is canceled at once', async () => {
    const device = await w.device();
    const { id } = await w.create(device.id);
    const res = await cancel(device.id, id);
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'canceled');
    assert.deepEqual(await w.statuses(device.id, id), ['requesting', 'cancel', 'canceled']);
  });

  test('a delivered command is canceled once the device confirms the cancel it was sent', async () => {
    const device = await w.device();
    const raw = await device.connect();
    const { id } = await w.create(device.id);
    await raw.command(id);
    await raw.acked({ t: 'received', id });

    const res = await cancel(device.id, id);
    assert.equal(res.status, 200);
    assert.ok(['cancel', 'cancelling'].includes(res.body.status), res.body.status);
    await raw.cancelFrame(id);
    await w.reach(device.id, id, 'cancelling');
    await raw.acked({ t: 'canceled', id });
    assert.deepEqual(await w.statuses(device.id, id), ['requesting', 'sentToTarget', 'executing', 'cancel', 'cancelling', 'canceled']);
  });

  test("with the SDK, a cancel aborts the handler's AbortSignal and the command ends canceled", async () => {
    const device = await w.device();
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    let sawAbort = false;
    const sdk = await connect({
      url: w.appia.url,
      token: device.deviceToken,
      reconnect: false,
      handlers: {
        LaunchUri: async (_command, ctx) => {
          started();
          await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
          sawAbort = true;
          ctx.signal.throwIfAborted();
        },
      },
    });
    try {
      const { id } = await w.create(device.id);
      await running;
      await w.reach(device.id, id, 'executing');
      assert.equal((await cancel(device.id, id)).status, 200);
      await w.reach(device.id, id, 'canceled');
      assert.equal(sawAbort, true);
      assert.deepEqual(await w.statuses(device.id, id), ['requesting', 'sentToTarget', 'executing', 'cancel', 'cancelling', 'canceled']);
    } finally {
      await sdk.close();
    }
  });

  test('a device that never answers the cancel has its command canceled by the cancel timeout', async () => {
    const device = await w.device();
    const raw = await device.connect();
    const { id } = await w.create(device.id);
    await raw.command(id);
    await raw.acked({ t: 'received', id });
    await cancel(device.id, id);
    await raw.cancelFrame(id); // and keeps quiet

    await w.reach(device.id, id, 'canceled');
    const history = await w.history(device.id, id);
    assert.deepEqual(history.map((h) => h.status), ['requesting', 'sentToTarget', 'executing', 'cancel', 'cancelling', 'canceled']);
    assert.match(history.at(-1)!.detail ?? '', /cancel timeout/);
  });

  test('a device that finishes before it confirms the cancel wins: completed, and a later cancel is a 409 naming it', async () => {
    const device = await w.device();
    const raw = await device.connect();
    const { id } = await w.create(device.id);
    await raw.command(id);
    await raw.acked({ t: 'received', id });
    await cancel(device.id, id);
    await raw.cancelFrame(id);
    await raw.acked({ t: 'completed', id, responsePayload: { done: 'before the cancel' } });

    const done = await w.get(device.id, id);
    assert.equal(done.status, 'completed');
    assert.deepEqual(done.responsePayload, { done: 'before the cancel' });
    assert.deepEqual(await w.statuses(device.id, id), ['requesting', 'sentToTarget', 'executing', 'cancel', 'cancelling', 'completed']);

    const again = await cancel(device.id, id);
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'conflict');
    assert.match(again.body.error.message, /completed/);
    assert.ok(again.body.error.innerError['request-id']);
  });

  test('a cancel for a device that is away waits as cancel, and is sent when the device reconnects', async () => {
    const device = await w.device();
    let raw = await device.connect();
    const { id } = await w.create(device.id);
    await raw.command(id);
    await raw.acked({ t: 'received', id });
    raw.close();
    await raw.closed;

    const res = await cancel(device.id, id);
    assert.equal(res.body.status, 'cancel');
    raw = await device.connect();
    await raw.cancelFrame(id);
    await raw.acked({ t: 'canceled', id });
    assert.deepEqual(await w.statuses(device.id, id), ['requesting', 'sentToTarget', 'executing', 'cancel', 'cancelling', 'canceled']);
  });

  test('a second cancel, once the command is canceled, is a 409 that names its status', async () => {
    const device = await w.device();
    const { id } = await w.create(device.id);
    await cancel(device.id, id);
    const res = await cancel(device.id, id);
    assert.equal(res.status, 409);
    assert.match(res.body.error.message, /already canceled/);
  });

  familyReached('cancel');
});
