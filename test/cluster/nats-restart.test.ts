// DESIGN 1 and 7: the cluster's NATS restarts, or hangs, while commands stream in. The bus only wakes, so
// nothing is lost: every command a node answered 201 is stored and completes (the sweep wakes
// what the outage swallowed), `/readyz` says 503 while NATS is down and 200 again once it is
// back, with no one touching the nodes. The NATS here is the test's own (never the shared one).
// Skipped, with the reason printed, when PostgreSQL or a nats-server binary is missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OwnNatsServer, ownServerSkip } from '../bus/own-nats-server.js';
import { service } from '../support/services.js';
import { createsAcrossOutage, finalStatuses, startCluster, Teardown, historyOf } from './support.js';

const pg = await service('postgres');

/** what happens to the cluster's NATS mid-stream: it stops and starts again, or hangs (SIGSTOP) and wakes */
const OUTAGES = {
  restarts: { down: (nats: OwnNatsServer) => nats.stop(), up: (nats: OwnNatsServer) => nats.restart() },
  hangs: { down: (nats: OwnNatsServer) => nats.freeze(), up: async (nats: OwnNatsServer) => nats.thaw() },
} as const;

for (const [kind, outageOf] of Object.entries(OUTAGES)) {
  test(`when NATS ${kind} mid-stream, /readyz is 503 until it is back, and every accepted command is stored and completes`, { skip: pg.skip || ownServerSkip, timeout: 90_000 }, async (t) => {
    const teardown = new Teardown();
    t.after(() => teardown.run());
    const natsDir = await mkdtemp(join(tmpdir(), 'appia-cluster-nats-'));
    teardown.defer(() => rm(natsDir, { recursive: true, force: true }));
    const nats = await OwnNatsServer.start(['-js', '-sd', natsDir]);
    teardown.defer(() => nats.stop());
    const cluster = await startCluster(teardown, { label: 'nats', natsUrl: nats.url, flags: ['--receipt-timeout-ms', '2000'] });
    const { db, b, user, deviceId, runs, followed } = cluster;

    // NATS goes away mid-stream: both nodes notice on their own, and say so until it is back
    const { creates, outage } = await createsAcrossOutage(cluster, {
      paceMs: 50,
      down: () => outageOf.down(nats),
      hold: () => new Promise((resolve) => setTimeout(resolve, 1000)),
      up: () => outageOf.up(nats),
    });
    assert.ok(outage.over, 'NATS went down and came back mid-stream');
    assert.deepEqual(outage.readyDuring, [{ status: 503, retryAfter: '5' }, { status: 503, retryAfter: '5' }]);
    assert.deepEqual(creates.failed, []);
    t.diagnostic(`${creates.accepted.length} accepted, ${creates.unavailable.length} answered 503 during the outage`);
    for (const refused of creates.unavailable) assert.ok(Number(refused.retryAfter) >= 1, 'a 503 says when to retry');

    const stored = await db.sql<{ id: string }>('SELECT id FROM commands WHERE id = ANY($1)', [creates.accepted]);
    assert.equal(stored.length, creates.accepted.length, 'every 201 is stored');
    const statuses = await finalStatuses(b.url, user, deviceId, creates.accepted);
    assert.deepEqual([...new Set(statuses.values())], ['completed']);
    for (const id of creates.accepted) assert.equal(runs.get(id), 1, `command ${id} ran once on the device`);

    // the follower saw every change of every accepted command once, in order, across the outage
    await followed.untilCompleted(creates.accepted);
    assert.equal(new Set(followed.events.map((e) => e.id)).size, followed.events.length, 'no event twice');
    for (const id of creates.accepted) assert.deepEqual(followed.of(id), await historyOf(b.url, user, deviceId, id), `command ${id} on the followed stream`);
    t.diagnostic(`the followed stream was opened ${followed.opened} time(s)`);
  });
}
