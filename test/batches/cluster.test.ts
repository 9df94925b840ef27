import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { connect, type DeviceConnection } from '../../src/device/index.js';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { service, servicesRequired } from '../support/services.js';
import { openEvents } from '../lifecycle-e2e/helpers.js';
import { clusterDatabase, type ClusterDatabase } from '../cluster/support.js';

/**
 * DESIGN 1 and 9: a batch on two nodes sharing one PostgreSQL and one NATS.
 * Its devices are connected to either node; it is created on one and waited
 * on, and watched, on the other: every status change travels the real bus
 * with its batchId.
 */
const pg = await service('postgres');
const nats = await service('nats');
const skip = pg.skip || nats.skip;
if (skip) console.log(`# batches on a cluster: ${skip}${servicesRequired() ? '' : '; skipping'}`);

describe('a command batch on two nodes (PostgreSQL and NATS)', { skip: skip && !servicesRequired() ? skip : false }, () => {
  let db: ClusterDatabase;
  let dir: string;
  let a: TestAppia;
  let b: TestAppia;
  const devices: DeviceConnection[] = [];

  before(async () => {
    db = await clusterDatabase('batches');
    dir = await mkdtemp(join(tmpdir(), 'appia-batch-cluster-'));
    // one data folder: both nodes share the embedded issuer's key, so a user token works on either
    a = await startTestAppia({ databaseUrl: db.url, natsUrl: nats.url }, { dataDir: dir });
    b = await startTestAppia({ databaseUrl: db.url, natsUrl: nats.url }, { dataDir: dir });
  });
  after(async () => {
    await Promise.all(devices.map((d) => d.close()));
    await a?.stop();
    await b?.stop();
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  test('made on one node, it runs on devices of both, and a wait and an event stream on the other node see it through', async () => {
    const token = await a.token(`fleet-${randomUUID()}`);
    const nodes = [a, b, a, b];
    const registered = [];
    for (const [i, node] of nodes.entries()) {
      const device = await node.addDevice(token, `device ${i}`);
      registered.push(device);
      devices.push(await connect({ url: node.url, token: device.deviceToken, reconnect: false, keepAliveMs: 0, handlers: { LaunchUri: async () => ({ on: i }) } }));
    }
    const events = await openEvents(b, token, '/beta/me/events');
    try {
      const created = await a.api(token, 'POST', '/beta/me/commandBatches', { all: true, type: 'LaunchUri', payload: { uri: 'https://example.com/' } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const waited = await b.api(token, 'GET', `/beta/me/commandBatches/${created.body.id}`, undefined, { prefer: 'wait=30' });
      assert.deepEqual([waited.body.total, waited.body.counts, waited.body.done], [4, { completed: 4 }, true]);
      const completed = new Set<string>();
      for await (const event of events) {
        assert.equal(event.data.batchId, created.body.id);
        if (event.data.status === 'completed') completed.add(event.data.deviceId);
        if (completed.size === 4) break;
      }
      assert.deepEqual([...completed].sort(), registered.map((d) => d.id).sort());
    } finally {
      events.close();
    }
  });
});
