import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { commandStatus, connectDevice, createCommand, historyOf, until } from './support.js';

// DESIGN 4: delivery is at least once; reports are acked once durably stored.
describe('device gateway: delivery and reports', () => {
  let appia: TestAppia;
  let user: string;
  before(async () => {
    appia = await startTestAppia({ pingIntervalMs: 0 });
    user = await appia.token('bob');
  });
  after(() => appia.stop());

  /** `n` commands for an offline device, each in a millisecond of its own (ids are ordered by their millisecond) */
  async function queued(deviceId: string, n: number, uriPrefix: string): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const start = Date.now();
      while (Date.now() === start) await new Promise((r) => setImmediate(r));
      ids.push(await createCommand(appia, user, deviceId, `${uriPrefix}${i}`));
    }
    return ids;
  }

  it('pushes a command created while the device is online, and its reports take it to completed', async () => {
    const { id: deviceId, deviceToken } = await appia.addDevice(user);
    const device = await connectDevice(appia, deviceToken);
    const res = await appia.api(user, 'POST', `/beta/me/devices/${deviceId}/commands`, {
      type: 'AppService',
      appServiceName: 'com.example.echo',
      packageFamilyName: 'Example_1234',
      permissionTicket: 'ticket-1',
      payload: { text: 'hello', n: [1, 2] },
    });
    assert.equal(res.status, 201);
    const commandId = res.body.id as string;

    const pushed = await device.command();
    assert.deepEqual(pushed.command, {
      id: commandId,
      type: 'AppService',
      payload: { text: 'hello', n: [1, 2] },
      appServiceName: 'com.example.echo',
      packageFamilyName: 'Example_1234',
      permissionTicket: 'ticket-1',
      expirationDateTime: res.body.expirationDateTime,
    });
    assert.equal(await commandStatus(appia, user, deviceId, commandId), 'sentToTarget');

    assert.equal((await device.report({ t: 'received', id: commandId })).t, 'ack');
    assert.equal(await commandStatus(appia, user, deviceId, commandId), 'executing');
    assert.equal((await device.report({ t: 'completed', id: commandId, responsePayload: { echoed: 'hello' } })).t, 'ack');
    assert.equal(await commandStatus(appia, user, deviceId, commandId), 'completed');

    const answer = await appia.api(user, 'GET', `/beta/me/devices/${deviceId}/commands/${commandId}/responsePayload`);
    assert.equal(answer.status, 200);
    assert.equal(answer.body.echoed, 'hello');
    assert.deepEqual(await historyOf(appia, user, deviceId, commandId), ['requesting', 'sentToTarget', 'executing', 'completed']);
    await device.close();
  });

  it('gives an offline device its queued commands on connect, oldest first', async () => {
    const { id: deviceId, deviceToken } = await appia.addDevice(user);
    const ids = await queued(deviceId, 3, 'https://example.com/');
    assert.equal(await commandStatus(appia, user, deviceId, ids[0]!), 'requesting');

    const device = await connectDevice(appia, deviceToken);
    const received = [(await device.command()).command.id, (await device.command()).command.id, (await device.command()).command.id];
    assert.deepEqual(received, ids);
    for (const id of ids) assert.equal(await commandStatus(appia, user, deviceId, id), 'sentToTarget');
    await device.close();
  });

  it('keeps creation order across the connect: queued commands first, then those made while it connects and after', async () => {
    const { id: deviceId, deviceToken } = await appia.addDevice(user);
    const ids = await queued(deviceId, 3, 'https://example.com/queued/');
    const device = await connectDevice(appia, deviceToken);
    // made one after another from the moment the socket opens: the first ones meet the connect work
    // still sending the queue, the later ones the idle connection (sent in their create's transaction)
    for (let i = 0; i < 12; i++) ids.push(await createCommand(appia, user, deviceId, `https://example.com/live/${i}`));
    const received: string[] = [];
    for (let i = 0; i < ids.length; i++) received.push((await device.command()).command.id);
    assert.deepEqual(received, ids);
    assert.deepEqual(device.unread.filter((f) => f.t === 'command'), []);
    const last = ids.at(-1)!;
    assert.deepEqual(await historyOf(appia, user, deviceId, last), ['requesting', 'sentToTarget']);
    await device.close();
  });

  it('a device that stops reading gets every command once it reads again, in creation order', async () => {
    const { id: deviceId, deviceToken } = await appia.addDevice(user);
    const device = await connectDevice(appia, deviceToken);
    device.ws.pause(); // the server's writes pile up: some written at once, the rest behind them in the connection's queue
    const filler = 'x'.repeat(48 * 1024);
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const res = await appia.api(user, 'POST', `/beta/me/devices/${deviceId}/commands`, { type: 'AppService', appServiceName: 'bulk', packageFamilyName: 'Example_1', payload: { i, filler } });
      assert.equal(res.status, 201);
      ids.push(res.body.id as string);
    }
    device.ws.resume();
    const received: number[] = [];
    for (let i = 0; i < ids.length; i++) received.push((await device.command()).command.payload.i as number);
    assert.deepEqual(received, ids.map((_, i) => i));
    await device.close();
  });

  it('acks a report again after a lost ack, without a second history entry', async () => {
    const { id: deviceId, deviceToken } = await appia.addDevice(user);
    const device = await connectDevice(appia, deviceToken);
    const commandId = await createCommand(appia, user, deviceId);
    await device.command();
    assert.equal((await device.report({ t: 'received', id: commandId })).t, 'ack');
    assert.equal((await device.report({ t: 'received', id: commandId })).t, 'ack');
    assert.equal((await device.report({ t: 'progress', id: commandId, customStatus: 'half way' })).t, 'ack');
    assert.equal((await device.report({ t: 'progress', id: commandId, customStatus: 'half way' })).t, 'ack');
    assert.equal((await device.report({ t: 'completed', id: commandId, responsePayload: { n: 1 } })).t, 'ack');
    // After a reconnect the SDK re-sends every unacked report, older ones included.
    assert.equal((await device.report({ t: 'received', id: commandId })).t, 'ack');
    assert.equal((await device.report({ t: 'completed', id: commandId, responsePayload: { n: 2 } })).t, 'ack');

    assert.deepEqual(await historyOf(appia, user, deviceId, commandId), ['requesting', 'sentToTarget', 'executing', 'custom', 'completed']);
    const answer = await appia.api(user, 'GET', `/beta/me/devices/${deviceId}/commands/${commandId}/responsePayload`);
    assert.equal(answer.body.n, 1, 'the first answer is kept');
    await device.close();
  });

  it('records failed and dropped reports with their outcome', async () => {
    const { id: deviceId, deviceToken } = await appia.addDevice(user);
    const device = await connectDevice(appia, deviceToken);
    const failing = await createCommand(appia, user, deviceId);
    const dropping = await createCommand(appia, user, deviceId);
    await device.command();
    await device.command();
    assert.equal((await device.report({ t: 'failed', id: failing, error: 'no handler for it' })).t, 'ack');
    assert.equal((await device.report({ t: 'dropped', id: dropping })).t, 'ack');
    const failed = await appia.api(user, 'GET', `/beta/me/devices/${deviceId}/commands/${failing}`);
    assert.equal(failed.body.status, 'executionFailed');
    assert.equal(failed.body.error, 'no handler for it');
    assert.equal(await commandStatus(appia, user, deviceId, dropping), 'commandDropped');
    await device.close();
  });

  it('when the connection drops before receipt, the command goes to retry and is sent again on reconnect', async () => {
    const { id: deviceId, deviceToken } = await appia.addDevice(user);
    const first = await connectDevice(appia, deviceToken);
    const commandId = await createCommand(appia, user, deviceId);
    assert.equal((await first.command()).command.id, commandId);
    await first.close();
    await until(async () => ((await commandStatus(appia, user, deviceId, commandId)) === 'retry' ? true : undefined), 'retry');

    const second = await connectDevice(appia, deviceToken);
    assert.equal((await second.command()).command.id, commandId);
    assert.equal((await second.report({ t: 'received', id: commandId })).t, 'ack');
    assert.deepEqual(await historyOf(appia, user, deviceId, commandId), ['requesting', 'sentToTarget', 'retry', 'sentToTarget', 'executing']);
    await second.close();
  });

  it('records a receipt that lost the race with the receipt timeout as a delivery, then the receipt', async () => {
    const { id: deviceId, deviceToken } = await appia.addDevice(user);
    const device = await connectDevice(appia, deviceToken);
    const commandId = await createCommand(appia, user, deviceId);
    await device.command();
    // What the receipt timer does when no receipt came in time (here by hand, with the store's own compare-and-set).
    const now = Date.now();
    const timedOut = await appia.store.transitionChain([
      { commandId, from: 'sentToTarget', to: 'retry', at: now, detail: 'no receipt within the receipt timeout', dueAt: now + 60_000 },
    ]);
    assert.equal(timedOut.applied.length, 1);
    assert.equal((await device.report({ t: 'received', id: commandId })).t, 'ack');
    assert.deepEqual(await historyOf(appia, user, deviceId, commandId), ['requesting', 'sentToTarget', 'retry', 'sentToTarget', 'executing']);
    await device.close();
  });

  it('sends a cancel to the device and records its confirmation', async () => {
    const { id: deviceId, deviceToken } = await appia.addDevice(user);
    const device = await connectDevice(appia, deviceToken);
    const commandId = await createCommand(appia, user, deviceId);
    await device.command();
    await device.report({ t: 'received', id: commandId });

    assert.equal((await appia.api(user, 'POST', `/beta/me/devices/${deviceId}/commands/${commandId}/cancel`)).status, 200);
    assert.equal((await device.cancel()).id, commandId);
    assert.equal(await commandStatus(appia, user, deviceId, commandId), 'cancelling');
    assert.equal((await device.report({ t: 'canceled', id: commandId })).t, 'ack');
    assert.equal(await commandStatus(appia, user, deviceId, commandId), 'canceled');
    await device.close();
  });

  it('sends a cancel asked while the device was offline when it reconnects', async () => {
    const { id: deviceId, deviceToken } = await appia.addDevice(user);
    const first = await connectDevice(appia, deviceToken);
    const commandId = await createCommand(appia, user, deviceId);
    await first.command();
    await first.report({ t: 'received', id: commandId });
    await first.close();

    await appia.api(user, 'POST', `/beta/me/devices/${deviceId}/commands/${commandId}/cancel`);
    assert.equal(await commandStatus(appia, user, deviceId, commandId), 'cancel');
    const second = await connectDevice(appia, deviceToken);
    assert.equal((await second.cancel()).id, commandId);
    assert.equal(await commandStatus(appia, user, deviceId, commandId), 'cancelling');
    assert.equal(second.unread.filter((f) => f.t === 'command').length, 0, 'an executing command is not sent again');
    await second.close();
  });
});
