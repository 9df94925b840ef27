// DESIGN 1 and 7: three `appia serve` processes on three ports, one PostgreSQL database and one
// NATS. Any node takes any request; a command reaches its device through whichever node holds
// the device's connection, and every node can follow it. Skipped, with the reason printed, when
// PostgreSQL or NATS is not reachable (a failure under APPIA_REQUIRE_SERVICES=1).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type DeviceConnection } from '../../src/device/index.js';
import { service } from '../support/services.js';
import { ClusterNode, EventStream, addDevice, api, commandsOf, eventually, historyOf, startNodes, Teardown } from './support.js';

const [pg, nats] = [await service('postgres'), await service('nats')];
const skip = pg.skip || nats.skip;

describe('three nodes on one PostgreSQL and one NATS', { skip, timeout: 60_000 }, () => {
  const teardown = new Teardown();
  let a: ClusterNode;
  let b: ClusterNode;
  let c: ClusterNode;
  let user: string;
  /** every device connection a story opens, closed before the nodes stop (else it would keep reconnecting) */
  const devices: DeviceConnection[] = [];
  const streams: EventStream[] = [];

  before(async () => {
    // started at once on an empty folder and an empty database, as an orchestrator would:
    // one of them makes the issuer's key and migrates, the others take the same key and schema
    const started = await startNodes(teardown, { label: 'three', natsUrl: nats.url, names: ['a', 'b', 'c'], together: true });
    [a, b, c] = started.nodes as [ClusterNode, ClusterNode, ClusterNode];
    user = started.user;
  });

  after(async () => {
    await Promise.all(streams.map((s) => s.close()));
    await Promise.all(devices.map((d) => d.close()));
    await teardown.run();
  });

  it('a command created on node B reaches the device on node A, and node C serves its status, its event stream and a wait that ends when the device completes', async () => {
    const { id: deviceId, deviceToken } = await addDevice(b.url, user);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const device = await connect({
      url: a.url,
      token: deviceToken,
      handlers: {
        LaunchUri: async (command) => {
          await released;
          return { opened: command.payload?.['uri'], on: 'a' };
        },
      },
    });
    devices.push(device);

    const created = await api(b.url, user, 'POST', commandsOf(deviceId), { type: 'LaunchUri', payload: { uri: 'https://example.com/three' } });
    assert.equal(created.status, 201);
    const commandId: string = created.body.id;

    const stream = await EventStream.open(c.url, user, `${commandsOf(deviceId)}/${commandId}/events`);
    streams.push(stream);
    // the device holds the command (executing) while node C is asked to wait for its end
    await stream.until((s) => s.statuses().includes('executing'), 'executing on the stream from node C');
    let waitSettled = false;
    const waiting = api(c.url, user, 'GET', `${commandsOf(deviceId)}/${commandId}`, undefined, { prefer: 'wait=20' }).finally(() => (waitSettled = true));
    const during = await api(c.url, user, 'GET', `${commandsOf(deviceId)}/${commandId}`);
    assert.equal(during.body.status, 'executing');
    assert.equal(waitSettled, false, 'the wait on node C holds while the device works');
    release();

    const answer = await waiting;
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get('preference-applied'), 'wait=20');
    assert.equal(answer.body.status, 'completed');
    assert.deepEqual(answer.body.responsePayload, { opened: 'https://example.com/three', on: 'a' });

    await stream.ended;
    assert.deepEqual(stream.statuses(), ['requesting', 'sentToTarget', 'executing', 'completed']);
    assert.deepEqual(await historyOf(c.url, user, deviceId, commandId), stream.statuses());
    const read = await api(c.url, user, 'GET', `${commandsOf(deviceId)}/${commandId}`);
    assert.equal(read.body.status, 'completed');
  });

  it("the same device connecting to node C closes its connection on node A, and commands from node B then run on C", async () => {
    const { id: deviceId, deviceToken } = await addDevice(a.url, user);
    const ran: string[] = [];
    const onA = await connect({ url: a.url, token: deviceToken, reconnect: false, handlers: { LaunchUri: async () => (ran.push('a'), { on: 'a' }) } });
    devices.push(onA);
    const closes: number[] = [];
    void (async () => {
      for await (const s of onA.status()) if (s.type === 'disconnected') closes.push(s.code);
    })();
    await eventually(async () => ((await api(b.url, user, 'GET', `/beta/me/devices/${deviceId}`)).body.status === 'Online' ? true : undefined), 'Online');

    const onC = await connect({ url: c.url, token: deviceToken, handlers: { LaunchUri: async () => (ran.push('c'), { on: 'c' }) } });
    devices.push(onC);
    const closedA = await onA.closed();
    assert.ok(closedA instanceof Error, 'the connection on A ended');
    await eventually(async () => (closes.length > 0 ? true : undefined), 'the close of the connection on A');
    assert.deepEqual(closes, [4000], 'closed as replaced by a newer connection');
    assert.equal(onC.isConnected, true);

    const answer = await api(b.url, user, 'POST', commandsOf(deviceId), { type: 'LaunchUri', payload: { uri: 'https://example.com/moved' } }, { prefer: 'wait=20' });
    assert.equal(answer.status, 201);
    assert.equal(answer.body.status, 'completed');
    assert.deepEqual(answer.body.responsePayload, { on: 'c' });
    assert.deepEqual(ran, ['c']);
    // the stale connection's close did not mark the device Offline over the newer one
    assert.equal((await api(a.url, user, 'GET', `/beta/me/devices/${deviceId}`)).body.status, 'Online');
  });
});
