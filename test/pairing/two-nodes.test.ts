import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InProcessBus } from '../../src/bus/in-process.js';
import type { Store } from '../../src/store/store.js';
import { connectDevice } from '../gateway/support.js';
import { postgresFixture } from '../store/postgres-fixture.js';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { approve, askToPair, pollToken, testClock } from './support.js';

const pg = await postgresFixture('pairing');

/**
 * DESIGN 10 on a cluster: two nodes on one PostgreSQL. A pairing lives in
 * the store, so the device may ask one node, its owner approve on another,
 * and its polls land on either: the interval holds across nodes, and of
 * polls racing on both nodes exactly one gets the token.
 */
describe('pairing across two nodes on PostgreSQL', { skip: pg.skip }, () => {
  const clock = testClock();
  let dir: string;
  let stores: Store[];
  let a: TestAppia;
  let b: TestAppia;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'appia-pairing-nodes-'));
    // two stores (two pools) on one schema, as two nodes have
    stores = [await pg.open(), await pg.open()];
    const bus = new InProcessBus();
    a = await startTestAppia({ pairingIntervalMs: 1000, pingIntervalMs: 0 }, { store: stores[0]!, bus, dataDir: dir, now: clock.now });
    b = await startTestAppia({ pairingIntervalMs: 1000, pingIntervalMs: 0 }, { store: stores[1]!, bus, dataDir: dir, now: clock.now });
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    for (const store of stores ?? []) await store.close();
    await rm(dir, { recursive: true, force: true });
    await pg.cleanup();
  });

  test('asked on one node, approved on the other, polled on both: the interval is one, and the token is handed out once', async () => {
    const owner = await a.token('nina');
    const { body: pairing } = await askToPair(a);
    assert.equal((await pollToken(a, pairing['pairingId'])).body['error'], 'authorization_pending');
    assert.equal((await pollToken(b, pairing['pairingId'])).body['error'], 'slow_down', 'the other node knows the last poll');

    const approved = await approve(b, owner, pairing['userCode']);
    assert.equal(approved.status, 201);
    assert.equal((await approve(a, owner, pairing['userCode'])).status, 404, 'approved once, whichever node is asked');

    clock.advance(10_000);
    const polls = await Promise.all([pollToken(a, pairing['pairingId']), pollToken(b, pairing['pairingId']), pollToken(a, pairing['pairingId'])]);
    const issued = polls.filter((p) => p.status === 200);
    assert.equal(issued.length, 1, JSON.stringify(polls.map((p) => p.body)));
    assert.ok(polls.every((p) => p.status === 200 || ['invalid_grant', 'slow_down'].includes(p.body['error'])));

    const device = await connectDevice(b, issued[0]!.body['deviceToken']);
    await device.close();
    assert.equal((await a.api(owner, 'GET', `/beta/me/devices/${approved.body.id}`)).body.name, 'Kiosk');
  });
});
