import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InProcessBus } from '../../src/bus/in-process.js';
import { openSqliteStore } from '../../src/store/sqlite/store.js';
import type { Store } from '../../src/store/store.js';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { connectDevice, createCommand, historyOf, presenceOf, until } from '../gateway/support.js';

// DESIGN 1: two nodes (two command cores, two gateways, two HTTP apps) on
// one store and one bus, as a cluster runs, here with the in-process bus.
// Any node accepts any request; a command reaches its device through the
// node holding that device's connection.
describe('two nodes on one store and one bus', () => {
  let dir: string;
  let store: Store;
  let a: TestAppia;
  let b: TestAppia;
  let user: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'appia-two-nodes-'));
    store = openSqliteStore({ path: join(dir, 'appia.db') });
    const bus = new InProcessBus();
    // the same data folder: both nodes share the embedded issuer's key, so a user token works on either
    a = await startTestAppia({ pingIntervalMs: 0 }, { store, bus, dataDir: dir });
    b = await startTestAppia({ pingIntervalMs: 0 }, { store, bus, dataDir: dir });
    user = await a.token('nora');
  });
  after(async () => {
    await a.stop();
    await b.stop();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('delivers a command created on one node to the device connected to the other, and waits there for its end', async () => {
    const { id: deviceId, deviceToken } = await b.addDevice(user);
    const device = await connectDevice(a, deviceToken);
    const waiting = b.api(user, 'POST', `/beta/me/devices/${deviceId}/commands`, { type: 'LaunchUri', payload: { uri: 'https://example.com/x' } }, { prefer: 'wait=10' });
    const frame = await device.command();
    assert.equal((await device.report({ t: 'received', id: frame.command.id })).t, 'ack');
    assert.equal((await device.report({ t: 'completed', id: frame.command.id, responsePayload: { on: 'a' } })).t, 'ack');
    const answer = await waiting;
    assert.equal(answer.status, 201);
    assert.equal(answer.body.status, 'completed');
    assert.deepEqual(answer.body.responsePayload, { on: 'a' });
    await device.close();
  });

  it('closes the connection on the first node when the device connects to the second, and the device stays Online', async () => {
    const { id: deviceId, deviceToken } = await a.addDevice(user);
    const onA = await connectDevice(a, deviceToken);
    await until(async () => ((await presenceOf(a, user, deviceId)).status === 'Online' ? true : undefined), 'Online');
    const onB = await connectDevice(b, deviceToken);
    assert.equal((await onA.closed).code, 4000);
    // the stale connection's close does not mark the device Offline over the newer one
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal((await presenceOf(b, user, deviceId)).status, 'Online');
    // and commands now go to the newer connection
    const commandId = await createCommand(a, user, deviceId);
    assert.equal((await onB.command()).command.id, commandId);
    await onB.close();
  });

  it('sends a cancel asked on one node to the device on the other, which confirms it', async () => {
    const { id: deviceId, deviceToken } = await a.addDevice(user);
    const device = await connectDevice(b, deviceToken);
    const commandId = await createCommand(a, user, deviceId);
    await device.command();
    await device.report({ t: 'received', id: commandId });
    const canceling = await a.api(user, 'POST', `/beta/me/devices/${deviceId}/commands/${commandId}/cancel`);
    assert.equal(canceling.body.status, 'cancel');
    assert.equal((await device.cancel()).id, commandId);
    assert.equal((await device.report({ t: 'canceled', id: commandId })).t, 'ack');
    assert.deepEqual(await historyOf(b, user, deviceId, commandId), ['requesting', 'sentToTarget', 'executing', 'cancel', 'cancelling', 'canceled']);
    await device.close();
  });
});
