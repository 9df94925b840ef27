// DESIGN 1: a node dies (SIGKILL) while commands stream in. Its device reconnects through the
// balancer to the surviving node, and every command a node answered 201 ends `completed`, ran once
// on the device, with one history and one postback per status change: nothing the dead node
// left due (receipt timers, postbacks) fires twice. Skipped, with the reason printed, when
// PostgreSQL or NATS is not reachable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HookReceiver } from '../postback/hook-receiver.js';
import { service } from '../support/services.js';
import { createStream, finalStatuses, historyOf, startCluster, Teardown } from './support.js';

const [pg, nats] = [await service('postgres'), await service('nats')];

test('when the node holding the device is killed mid-stream, the device moves to the other node and every accepted command completes once', { skip: pg.skip || nats.skip, timeout: 90_000 }, async (t) => {
  const teardown = new Teardown();
  t.after(() => teardown.run());
  const receiver = await HookReceiver.start();
  teardown.defer(() => receiver.close());
  // the device and the follower through a balancer: the first node that takes a connection, A while it lives,
  // then B (the follower resuming with Last-Event-ID)
  const { a, b, user, deviceId, device, runs, followed } = await startCluster(teardown, {
    label: 'kill',
    natsUrl: nats.url,
    flags: ['--postback-allow', '127.0.0.1/32', '--receipt-timeout-ms', '2000'],
    balanced: true,
    handle: async () => {
      await new Promise((resolve) => setTimeout(resolve, 10));
      return { ok: true };
    },
  });
  const connectedTo: string[] = [];
  void (async () => {
    for await (const s of device.status()) if (s.type === 'connected') connectedTo.push(s.reconnect ? 'again' : 'first');
  })();

  const creates = await createStream({
    urls: () => (a.running ? [a.url, b.url] : [b.url]),
    token: user,
    deviceId,
    total: 80,
    concurrency: 4,
    postBackUri: receiver.url(),
    onAccepted: async (count) => {
      if (count === 25) await a.kill();
    },
  });
  assert.equal(a.running, false, 'node A was killed mid-stream');
  assert.ok(creates.accepted.length >= 60, `most creates were accepted (${creates.accepted.length})`);
  t.diagnostic(`${creates.accepted.length} accepted, ${creates.failed.length} lost with node A`);

  const statuses = await finalStatuses(b.url, user, deviceId, creates.accepted);
  assert.deepEqual([...new Set(statuses.values())], ['completed']);
  assert.ok(connectedTo.includes('again'), 'the device reconnected (to node B)');
  for (const id of creates.accepted) assert.equal(runs.get(id), 1, `command ${id} ran once on the device`);

  // every status change was stored once and posted back once per change (redelivery may repeat a webhook-id, never add one)
  const histories = new Map<string, string[]>();
  for (const id of creates.accepted) {
    const history = await historyOf(b.url, user, deviceId, id);
    assert.equal(history[0], 'requesting');
    assert.equal(history.at(-1), 'completed');
    assert.equal(history.filter((s) => s === 'completed').length, 1);
    for (let i = 1; i < history.length; i++) assert.notEqual(history[i], history[i - 1], `command ${id}: ${history.join(' > ')}`);
    histories.set(id, history);
  }
  const expected = [...histories.values()].reduce((n, h) => n + h.length, 0);
  // (a create whose answer died with node A may still have been stored, and posts back too: not counted here)
  const distinct = () => new Set(receiver.delivered().filter((p) => histories.has(p.body.id)).map((p) => p.webhookId)).size;
  await receiver.until(() => distinct() >= expected, `${expected} distinct postbacks`, 30_000);
  for (const [id, history] of histories) {
    const bySequence = new Map<number, string>();
    for (const p of receiver.of(id)) {
      const seen = bySequence.get(p.body.sequence);
      assert.ok(seen === undefined || seen === p.body.status, `command ${id}: sequence ${p.body.sequence} posted as two statuses`);
      bySequence.set(p.body.sequence, p.body.status);
    }
    assert.deepEqual([...bySequence.entries()].sort((x, y) => x[0] - y[0]), history.map((s, n) => [n + 1, s]), `command ${id}`);
  }
  assert.equal(distinct(), expected, 'no postback beyond the stored changes');
  const accepted = receiver.arrivals.filter((p) => histories.has(p.body.id)).length;
  t.diagnostic(`${accepted} postback arrivals for the ${expected} changes of accepted commands`);

  // the follower saw every change of every accepted command once, in order, across the move
  await followed.untilCompleted(creates.accepted);
  assert.equal(new Set(followed.events.map((e) => e.id)).size, followed.events.length, 'no event twice');
  for (const [id, history] of histories) assert.deepEqual(followed.of(id), history, `command ${id} on the followed stream`);
  assert.ok(followed.opened >= 2, 'the stream was resumed on node B');
});
