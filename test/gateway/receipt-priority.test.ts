import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InProcessBus } from '../../src/bus/in-process.js';
import { subjects } from '../../src/bus/bus.js';
import { startTestAppia } from '../support/appia.js';
import { commandStatus, connectDevice, createCommand, until, type Frame } from './support.js';

// DESIGN 4, found by `npm run chaos -- --long`: on a loaded node a device's receipts waited
// behind the wake-ups queued on its connection before them, for longer than the receipt timeout;
// the command went to `retry` and was sent again, which queued more wake-ups (a retry storm).
// A device's reports are now handled ahead of the wake-ups queued before them.
test("a device's receipt is handled ahead of the wake-ups queued on its connection before it", async (t) => {
  const bus = new InProcessBus();
  // a short receipt timeout and a long backoff: a command left unanswered stays in retry
  const appia = await startTestAppia({ pingIntervalMs: 0, receiptTimeoutMs: 200, retryBaseMs: 600_000 }, { bus });
  t.after(() => appia.stop());
  const user = await appia.token('rhea');
  const { id: deviceId, deviceToken } = await appia.addDevice(user);
  const device = await connectDevice(appia, deviceToken);
  t.after(() => device.close());

  // commands in retry: a wake-up for one sends it again (a write, then a frame the device can see)
  const waiting: string[] = [];
  for (let i = 0; i < 20; i++) {
    waiting.push(await createCommand(appia, user, deviceId, `https://example.com/waiting/${i}`));
    await device.command();
  }
  for (const id of waiting) await until(async () => ((await commandStatus(appia, user, deviceId, id)) === 'retry' ? true : undefined), 'the receipt timeout');
  const running = await createCommand(appia, user, deviceId, 'https://example.com/running');
  await device.command();

  const order: string[] = [];
  device.ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as Frame;
    order.push(frame.t === 'command' ? 'command' : `${frame.t} ${frame.ref}`);
  });
  // the wake-ups are queued on the connection first; the device's receipt reaches the server after them
  for (const id of waiting) bus.publish(subjects.device(deviceId), { kind: 'deliver', deviceId, commandId: id });
  const acked = await device.report({ t: 'received', ref: 'receipt', id: running });
  assert.equal(acked.t, 'ack');
  await until(async () => (order.filter((f) => f === 'command').length === waiting.length ? true : undefined), 'every wake-up');

  // before: the receipt was answered only after all 20 commands were sent again
  const before = order.indexOf('ack receipt');
  assert.ok(before < waiting.length / 2, `the receipt waited behind the wake-ups: ${order.join(', ')}`);
  assert.equal(await commandStatus(appia, user, deviceId, running), 'executing');
});
