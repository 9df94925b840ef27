import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { connectDevice, createCommand, historyOf, presenceOf, until } from './support.js';

// DESIGN 4: presence (Online / Standby / Offline), one connection per device, liveness by ping/pong.
describe('device gateway: presence and connections', () => {
  let appia: TestAppia;
  let user: string;
  before(async () => {
    appia = await startTestAppia({ pingIntervalMs: 0 });
    user = await appia.token('dave');
  });
  after(() => appia.stop());

  it('shows the device Online while connected, Standby when it says so, Offline once it leaves', async () => {
    const { id, deviceToken } = await appia.addDevice(user);
    const device = await connectDevice(appia, deviceToken);
    // The connect work is queued before any frame, so an acked report means it is done.
    assert.equal((await device.report({ t: 'state', state: 'active' })).t, 'ack');
    const online = await presenceOf(appia, user, id);
    assert.equal(online.status, 'Online');
    assert.ok(online.lastSeenDateTime);
    assert.equal(appia.gateway.connectedDevices, 1);

    assert.equal((await device.report({ t: 'state', state: 'standby' })).t, 'ack');
    assert.equal((await presenceOf(appia, user, id)).status, 'Standby');
    assert.equal((await device.report({ t: 'state', state: 'active' })).t, 'ack');
    assert.equal((await presenceOf(appia, user, id)).status, 'Online');

    await device.close();
    const offline = await until(async () => {
      const p = await presenceOf(appia, user, id);
      return p.status === 'Offline' ? p : undefined;
    }, 'Offline');
    assert.ok(Date.parse(offline.lastSeenDateTime!) >= Date.parse(online.lastSeenDateTime!));
    assert.equal(appia.gateway.connectedDevices, 0);
  });

  it('a second connection with the same token replaces the first, which closes with 4000', async () => {
    const { id, deviceToken } = await appia.addDevice(user);
    const first = await connectDevice(appia, deviceToken);
    const commandId = await createCommand(appia, user, id);
    assert.equal((await first.command()).command.id, commandId);

    const second = await connectDevice(appia, deviceToken);
    const closed = await first.closed;
    assert.equal(closed.code, 4000);
    assert.match(closed.reason, /replaced/);
    // The newer connection gets the unreceived command again, and the older one's close fails nothing.
    assert.equal((await second.command()).command.id, commandId);
    assert.equal((await second.report({ t: 'received', id: commandId })).t, 'ack');
    assert.equal((await presenceOf(appia, user, id)).status, 'Online');
    assert.deepEqual(await historyOf(appia, user, id, commandId), ['requesting', 'sentToTarget', 'executing']);
    assert.equal(appia.gateway.connectedDevices, 1);

    // New work goes to the newer connection only.
    const next = await createCommand(appia, user, id);
    assert.equal((await second.command()).command.id, next);
    await second.close();
  });
});

describe('device gateway: liveness', () => {
  let appia: TestAppia;
  let user: string;
  before(async () => {
    appia = await startTestAppia({ pingIntervalMs: 100 });
    user = await appia.token('erin');
  });
  after(() => appia.stop());

  it('closes a connection that stops answering pings and marks the device Offline', async () => {
    const { id, deviceToken } = await appia.addDevice(user);
    const silent = await connectDevice(appia, deviceToken, { autoPong: false });
    assert.equal((await silent.closed).code, 1006, 'terminated without a closing handshake');
    assert.ok(silent.pings >= 1, 'it was pinged first');
    await until(async () => ((await presenceOf(appia, user, id)).status === 'Offline' ? true : undefined), 'Offline');
    assert.equal(appia.gateway.connectedDevices, 0);
  });

  it('keeps a connection that answers its pings', async () => {
    const { id, deviceToken } = await appia.addDevice(user);
    const device = await connectDevice(appia, deviceToken);
    await until(async () => (device.pings >= 3 ? true : undefined), 'three pings');
    assert.equal(device.ws.readyState, device.ws.OPEN);
    assert.equal((await device.report({ t: 'state', state: 'active' })).t, 'ack');
    assert.equal((await presenceOf(appia, user, id)).status, 'Online');
    await device.close();
  });
});

describe('device gateway: shutdown', () => {
  it('closes every device connection with 1001 and marks the devices Offline before the store closes', async () => {
    const appia = await startTestAppia({ pingIntervalMs: 0 });
    const user = await appia.token('frank');
    const { id, deviceToken } = await appia.addDevice(user);
    const device = await connectDevice(appia, deviceToken);
    assert.equal((await device.report({ t: 'state', state: 'active' })).t, 'ack');

    await appia.stop({ keepData: true });
    assert.equal((await device.closed).code, 1001);
    const again = await startTestAppia({ pingIntervalMs: 0 }, { dataDir: appia.dataDir });
    try {
      assert.equal((await presenceOf(again, await again.token('frank'), id)).status, 'Offline');
    } finally {
      await again.stop();
      await rm(appia.dataDir, { recursive: true, force: true });
    }
  });
});
