// DESIGN 1 and 6: two nodes on one PostgreSQL store and one bus, each with its own dispatcher racing for
// the same outbox. Every postback arrives once, in order per command, whichever node made the change and
// whichever node sends it. Skipped, with the reason printed, when PostgreSQL is not reachable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { InProcessBus } from '../../src/bus/in-process.js';
import { connect } from '../../src/device/index.js';
import { startTestAppia } from '../support/appia.js';
import { postgresFixture } from '../store/postgres-fixture.js';
import { HookReceiver } from './hook-receiver.js';

const pg = await postgresFixture('postbacks');

test('two nodes on one PostgreSQL store deliver every postback once, in order per command', { skip: pg.skip, timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'appia-postback-cluster-'));
  const bus = new InProcessBus();
  // one store per node, as separate processes would have, on one schema
  const [storeA, storeB] = [await pg.open({ applicationName: pg.applicationName('a') }), await pg.open({ applicationName: pg.applicationName('b') })];
  const settings = { postbackAllow: ['127.0.0.1/32'], pingIntervalMs: 0 };
  // the same data folder: both nodes share the embedded issuer's key
  const a = await startTestAppia(settings, { store: storeA, bus, dataDir: dir });
  const b = await startTestAppia(settings, { store: storeB, bus, dataDir: dir });
  const receiver = await HookReceiver.start();
  t.after(async () => {
    await receiver.close();
    await a.stop();
    await b.stop();
    await Promise.all([storeA.close(), storeB.close()]);
    await pg.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  const token = await a.token('nora');
  const { id: deviceId, deviceToken } = await b.addDevice(token);
  const device = await connect({ url: a.url, token: deviceToken, handlers: { LaunchUri: async () => ({ opened: true }) } });
  t.after(() => device.close());
  const secret = (await b.api(token, 'GET', '/beta/me/postBackSecret')).body.secret as string;

  const ids: string[] = [];
  await Promise.all(
    Array.from({ length: 20 }, async (_, i) => {
      const node = i % 2 === 0 ? a : b;
      const res = await node.api(token, 'POST', `/beta/me/devices/${deviceId}/commands`, { type: 'LaunchUri', payload: { uri: `https://example.com/${i}` }, postBackUri: receiver.url() }, { prefer: 'wait=20' });
      assert.equal(res.status, 201);
      assert.equal(res.body.status, 'completed');
      ids.push(res.body.id);
    }),
  );
  await receiver.until(() => receiver.delivered().length === ids.length * 4, `${ids.length * 4} postbacks`, 30_000);

  for (const id of ids) {
    const history = (await a.api(token, 'GET', `/beta/me/devices/${deviceId}/commands/${id}/history`)).body.value.map((h: { status: string }) => h.status);
    assert.deepEqual(receiver.of(id).map((p) => [p.body.sequence, p.body.status]), history.map((s: string, n: number) => [n + 1, s]), `command ${id}`);
    for (const p of receiver.of(id)) assert.deepEqual(new Webhook(secret).verify(p.rawBody, p.headers), p.body);
  }
  assert.equal(receiver.arrivals.length, ids.length * 4, 'no postback sent twice by the two nodes');
  const [sentByA, sentByB] = [(await a.postbacks.stats()).delivered, (await b.postbacks.stats()).delivered];
  assert.equal(sentByA + sentByB, ids.length * 4);
  t.diagnostic(`node a sent ${sentByA}, node b sent ${sentByB}`);
});
