// DESIGN 6 end to end: a real server, SDK devices, a real receiver on 127.0.0.1.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import { eventually, postbackWorld } from './world.js';

const work = { type: 'AppService', appServiceName: 'work', packageFamilyName: 'com.example.tests', payload: { n: 1 } };

describe('postbacks: every status change reaches the receiver', () => {
  test('each change of each command arrives once, in order, signed with the owner\'s secret, its body the command as the API shows it', async (t) => {
    const w = await postbackWorld(t);
    const secret = await w.secret();
    const [a, b] = [await w.device(), await w.device()];
    const parked = await w.offlineDevice();
    // several commands at once, on two devices, plus one canceled before it reached its device
    const created = await Promise.all([
      w.create(a.id),
      w.create(a.id, work),
      w.create(b.id, work),
      w.create(b.id),
      w.create(parked),
    ]);
    const devices = [a.id, a.id, b.id, b.id, parked];
    await w.alice.send(parked, { type: 'LaunchUri', payload: { uri: 'https://example.com/no-postback' } });
    await w.appia.api(w.alice.token, 'POST', `/beta/me/devices/${parked}/commands/${created[4]!.id}/cancel`);

    const histories = await Promise.all(created.map(async (c, i) => (await w.alice.final(devices[i]!, c.id), w.alice.history(devices[i]!, c.id))));
    const expected = histories.reduce((n, h) => n + h.length, 0);
    await w.receiver.until(() => w.receiver.delivered().length >= expected, `${expected} postbacks`);

    for (const [i, command] of created.entries()) {
      const arrivals = w.receiver.of(command.id);
      assert.deepEqual(
        arrivals.map((p) => [p.body.sequence, p.body.status]),
        histories[i]!.map((status, n) => [n + 1, status]),
        `command ${i}: one postback per change, in the order of its history`,
      );
      assert.equal(new Set(arrivals.map((p) => p.webhookId)).size, arrivals.length, 'a webhook-id per postback');
      for (const p of arrivals) {
        assert.deepEqual(new Webhook(secret).verify(p.rawBody, p.headers), p.body);
        assert.match(p.headers['webhook-signature']!, /^v1,[A-Za-z0-9+/=]+$/, 'one secret signs outside a rotation');
        assert.equal(p.headers['content-type'], 'application/json');
      }
      // the last postback is the final command, exactly as GET shows it (no @odata.context), plus sequence
      const { '@odata.context': _context, ...shown } = await w.alice.get(devices[i]!, command.id);
      const last = arrivals.at(-1)!.body;
      assert.deepEqual({ ...last, sequence: undefined }, { ...shown, sequence: undefined });
    }
    assert.deepEqual(histories.map((h) => h.at(-1)), ['completed', 'completed', 'completed', 'completed', 'canceled']);
    assert.ok(histories[1]!.includes('custom'), 'the app service reported progress, which is a change too');
    assert.equal(w.receiver.arrivals.length, expected, 'nothing more: a command without postBackUri sends none');

    // the receiver has its 204 before the server records the attempt: read the log once every attempt is recorded
    const log = await eventually(async () => {
      const entries = await w.log(a.id, created[1]!.id);
      return entries.every((d) => d.state !== 'pending') ? entries : undefined;
    }, 'every delivery recorded');
    assert.deepEqual(log.map((d) => [d.sequence, d.status, d.state, d.attempts, d.lastResponseStatus, d.lastError, d.nextAttemptDateTime]),
      histories[1]!.map((status, n) => [n + 1, status, 'delivered', 1, 204, null, null]));
    assert.deepEqual(log.map((d) => d.webhookId), w.receiver.of(created[1]!.id).map((p) => p.webhookId));
    for (const d of log) assert.ok(d.deliveredDateTime !== null && d.lastAttemptDateTime !== null);
  });

  test('the secret is made on first use, kept, and shown only to its owner; the deliveries log of another user\'s command is 404', async (t) => {
    const w = await postbackWorld(t);
    const secret = await w.secret();
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.equal(await w.secret(), secret, 'the same secret every time');
    const device = await w.offlineDevice();
    const command = await w.create(device);
    await w.receiver.until(() => w.receiver.delivered().length === 1, 'the first postback');

    const bob = await w.appia.token('bob');
    const bobs = await w.appia.api(bob, 'GET', '/beta/me/postBackSecret');
    assert.equal(bobs.status, 200);
    assert.notEqual(bobs.body.secret, secret, 'bob has a secret of his own');
    assert.throws(() => new Webhook(bobs.body.secret).verify(w.receiver.arrivals[0]!.rawBody, w.receiver.arrivals[0]!.headers), /No matching signature/);
    const theirs = await w.appia.api(bob, 'GET', `/beta/me/devices/${device}/commands/${command.id}/postbacks`);
    assert.equal(theirs.status, 404);
    assert.equal(theirs.body.error.code, 'itemNotFound');
    assert.doesNotMatch(JSON.stringify(theirs.body), /whsec_|webhook/);
    const rotated = await w.appia.api(bob, 'POST', '/beta/me/postBackSecret/rotate');
    assert.equal(rotated.status, 200);
    assert.equal(await w.secret(), secret, "bob's rotation leaves alice's secret alone");

    const readOnly = await w.appia.token('alice', { scopes: ['Device.Read'] });
    for (const [method, path] of [['GET', '/beta/me/postBackSecret'], ['POST', '/beta/me/postBackSecret/rotate'], ['GET', `/beta/me/devices/${device}/commands/${command.id}/postbacks`]] as const) {
      const res = await w.appia.api(readOnly, method, path);
      assert.equal(res.status, 403, `${method} ${path} needs Device.Command`);
      assert.doesNotMatch(JSON.stringify(res.body), /whsec_/);
    }
    assert.equal((await w.appia.api(w.alice.token, 'GET', `/beta/me/devices/${device}/commands/not-an-id/postbacks`)).status, 404);
    assert.equal((await w.appia.api(w.alice.token, 'GET', '/v1.0/me/postBackSecret')).body.secret, secret, 'also under /v1.0');
  });
});
