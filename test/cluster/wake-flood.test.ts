// DESIGN 1: the bus only wakes, and every node's sweep wakes every command still waiting for
// delivery again each interval. On a cluster with a backlog, the node holding a device's
// connection gets the same wake-up for the same command over and over; each one it queues costs
// the connection a store read before the device's next command. Under the chaos run's faults the
// repeats outgrew what a connection could read, and commands for connected devices sat in
// `requesting` to the end. A flood of repeated wake-ups must not delay the device's next command.
// Real processes: one `appia serve` on PostgreSQL and a nats-server of the test's own, the wake-ups
// published on NATS as another node's sweep publishes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as natsConnect } from '@nats-io/transport-node';
import { subjects } from '../../src/bus/bus.js';
import { connect } from '../../src/device/index.js';
import { OwnNatsServer, ownServerSkip } from '../bus/own-nats-server.js';
import { service } from '../support/services.js';
import { addDevice, api, commandsOf, finalStatuses, startNodes, Teardown } from './support.js';

const pg = await service('postgres');
/** what two nodes' sweeps publish for a backlog of a few hundred commands over a minute or so */
const REPEATS = 20_000;

test('a flood of repeated wake-ups for one command does not hold back the device’s next command', { skip: pg.skip || ownServerSkip, timeout: 90_000 }, async (t) => {
  const teardown = new Teardown();
  t.after(() => teardown.run());
  const natsDir = await mkdtemp(join(tmpdir(), 'appia-wake-flood-nats-'));
  teardown.defer(() => rm(natsDir, { recursive: true, force: true }));
  const nats = await OwnNatsServer.start(['-sd', natsDir]);
  teardown.defer(() => nats.stop());
  const { nodes: [node], user } = await startNodes(teardown, { label: 'flood', natsUrl: nats.url, names: ['a'], user: 'flo' });

  const { id: deviceId, deviceToken } = await addDevice(node.url, user);
  const runs = new Map<string, number>();
  const device = await connect({
    url: node.url,
    token: deviceToken,
    handlers: { LaunchUri: async (command) => void runs.set(command.id, (runs.get(command.id) ?? 0) + 1) },
  });
  teardown.defer(() => device.close());

  const create = async (): Promise<string> => {
    const res = await api(node.url, user, 'POST', commandsOf(deviceId), { type: 'LaunchUri', payload: { uri: 'https://example.com/' } });
    assert.equal(res.status, 201);
    return res.body.id as string;
  };
  const first = await create();
  assert.deepEqual([...(await finalStatuses(node.url, user, deviceId, [first])).values()], ['completed']);

  // the same wake-up, again and again, as other nodes' sweeps send it
  const publisher = await natsConnect({ servers: nats.url });
  teardown.defer(() => publisher.close());
  const wake = JSON.stringify({ kind: 'deliver', deviceId, commandId: first });
  for (let i = 0; i < REPEATS; i++) publisher.publish(subjects.device(deviceId), wake);
  await publisher.flush();

  const started = Date.now();
  const next = await create();
  assert.deepEqual([...(await finalStatuses(node.url, user, deviceId, [next])).values()], ['completed']);
  const tookMs = Date.now() - started;
  t.diagnostic(`the next command completed ${tookMs} ms after its create, behind ${REPEATS} repeated wake-ups`);
  assert.ok(tookMs < 2_000, `the next command took ${tookMs} ms`);
  assert.equal(runs.get(first), 1, 'the woken command did not run again');
  assert.equal(runs.get(next), 1);
});
