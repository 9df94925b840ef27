// DESIGN 6: rotating the owner's secret; the old one signs too for 24 h. The dispatcher's clock is a
// seam, so "24 h later" needs no waiting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import type { Arrival } from './hook-receiver.js';
import { postbackWorld } from './world.js';

const signatures = (a: Arrival) => a.headers['webhook-signature']!.split(' ');

test('after a rotation both secrets verify for 24 h (two v1 entries); after that only the new one signs', async (t) => {
  let hoursAhead = 0;
  const w = await postbackWorld(t, { now: () => Date.now() + hoursAhead * 3600_000 });
  const device = await w.offlineDevice();
  const first = await w.secret();
  const before = await w.create(device);
  await w.receiver.until(() => w.receiver.delivered().length === 1, 'the first postback');
  assert.equal(signatures(w.receiver.arrivals[0]!).length, 1);
  assert.ok(new Webhook(first).verify(w.receiver.arrivals[0]!.rawBody, w.receiver.arrivals[0]!.headers));

  const rotatedAt = Date.now();
  const rotated = await w.appia.api(w.alice.token, 'POST', '/beta/me/postBackSecret/rotate');
  assert.equal(rotated.status, 200);
  assert.equal(rotated.headers.get('cache-control'), 'no-store');
  const second: string = rotated.body.secret;
  assert.match(second, /^whsec_/);
  assert.notEqual(second, first);
  const until = Date.parse(rotated.body.previousSecretValidUntil);
  assert.ok(until >= rotatedAt + 24 * 3600_000 && until <= Date.now() + 24 * 3600_000, 'the old secret signs for 24 h from the rotation');
  assert.deepEqual((await w.appia.api(w.alice.token, 'GET', '/beta/me/postBackSecret')).body, rotated.body, 'GET says the same, and never shows the old secret');

  // the overlap: the cancel's postbacks carry both signatures, and a receiver holding either secret accepts them
  await w.appia.api(w.alice.token, 'POST', `/beta/me/devices/${device}/commands/${before.id}/cancel`);
  await w.receiver.until(() => w.receiver.delivered().length === 3, 'the cancel and canceled postbacks');
  for (const arrival of w.receiver.arrivals.slice(1)) {
    assert.equal(signatures(arrival).length, 2);
    assert.ok(signatures(arrival).every((s) => s.startsWith('v1,')));
    for (const secret of [second, first]) assert.deepEqual(new Webhook(secret).verify(arrival.rawBody, arrival.headers), arrival.body);
  }

  // a day and a minute later, by the dispatcher's clock
  hoursAhead = 24 + 1 / 60;
  await w.create(device);
  await w.receiver.until(() => w.receiver.delivered().length === 4, 'a postback after the overlap');
  const late = w.receiver.arrivals[3]!;
  const sentAt = new Date(Number(late.headers['webhook-timestamp']) * 1000);
  // the timestamp is a day ahead of this machine's clock, so verify() would refuse it as too new: compare the signature itself
  assert.deepEqual(signatures(late), [new Webhook(second).sign(late.webhookId, sentAt, late.rawBody)]);
  assert.notEqual(signatures(late)[0], new Webhook(first).sign(late.webhookId, sentAt, late.rawBody));
});
