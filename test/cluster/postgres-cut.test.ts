// DESIGN 1 and 7: the cluster's PostgreSQL is cut off for a moment while commands stream in (a
// TCP relay in front of the shared server is cut, so the server itself is left alone). Requests
// during the cut are answered 503 with Retry-After, never 201 for a command that was not stored;
// `/readyz` says 503; afterwards the nodes recover on their own and every accepted command
// completes. Skipped, with the reason printed, when PostgreSQL or NATS is not reachable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TcpProxy } from '../store/tcp-proxy.js';
import { service } from '../support/services.js';
import { createsAcrossOutage, eventually, finalStatuses, startCluster, Teardown, historyOf } from './support.js';

const [pg, nats] = [await service('postgres'), await service('nats')];

test('when PostgreSQL is cut off mid-stream, requests get 503 with Retry-After, and afterwards every accepted command is stored and completes', { skip: pg.skip || nats.skip, timeout: 90_000 }, async (t) => {
  const teardown = new Teardown();
  t.after(() => teardown.run());
  // in front of the shared server, not the database: the nodes' database URL names the proxy
  const target = new URL(pg.url);
  const proxy = await TcpProxy.start({ host: target.hostname, port: Number(target.port) || 5432 });
  teardown.defer(() => proxy.close());
  const cluster = await startCluster(teardown, {
    label: 'cut',
    natsUrl: nats.url,
    databaseUrl: (database) => proxy.url(database.url),
    flags: ['--receipt-timeout-ms', '2000'],
  });
  const { db, b, user, deviceId, runs, followed } = cluster;

  let unavailableSeen = 0;
  const { creates, outage } = await createsAcrossOutage(cluster, {
    paceMs: 20,
    down: () => proxy.cut(),
    // the creates meet the cut for a while
    hold: async (creates) => {
      unavailableSeen = await eventually(async () => (creates.unavailable.length >= 4 ? creates.unavailable.length : undefined), 'creates answered 503');
    },
    up: () => proxy.resume(),
  });
  assert.ok(outage.over, 'PostgreSQL was cut off and came back mid-stream');
  assert.deepEqual(outage.readyDuring, [{ status: 503, retryAfter: '5' }, { status: 503, retryAfter: '5' }]);
  assert.ok(unavailableSeen >= 4);
  assert.deepEqual(creates.failed, [], 'every create was answered 201 or 503');
  for (const refused of creates.unavailable) assert.equal(refused.retryAfter, '1', 'a 503 says when to retry');
  t.diagnostic(`${creates.accepted.length} accepted, ${creates.unavailable.length} answered 503 during the cut`);

  const stored = await db.sql<{ id: string }>('SELECT id FROM commands WHERE id = ANY($1)', [creates.accepted]);
  assert.equal(stored.length, creates.accepted.length, 'every 201 is stored');
  const statuses = await finalStatuses(b.url, user, deviceId, creates.accepted);
  assert.deepEqual([...new Set(statuses.values())], ['completed']);
  for (const id of creates.accepted) assert.equal(runs.get(id), 1, `command ${id} ran once on the device`);

  // the follower saw every change of every accepted command once, in order, resuming after the cut
  await followed.untilCompleted(creates.accepted);
  assert.equal(new Set(followed.events.map((e) => e.id)).size, followed.events.length, 'no event twice');
  for (const id of creates.accepted) assert.deepEqual(followed.of(id), await historyOf(b.url, user, deviceId, id), `command ${id} on the followed stream`);
  t.diagnostic(`the followed stream was opened ${followed.opened} time(s)`);
});
