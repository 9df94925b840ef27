import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connectDevice } from '../gateway/support.js';
import { LogCapture } from '../logs/capture.js';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { approve, askToPair, pollToken, testClock } from './support.js';

const CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;

/**
 * DESIGN 10: a device pairs without a copied secret. It asks for a code, its
 * owner approves the code, and its polls (no faster than told) get the device
 * token once. The clock is the test's: expiry and intervals without sleeping.
 */
describe('device pairing over HTTP', () => {
  const clock = testClock();
  let appia: TestAppia;
  let alice: string;
  let bob: string;
  before(async () => {
    appia = await startTestAppia({ pairingIntervalMs: 1000, pairingTtlMs: 60_000, maxDevicesPerUser: 3, pairingGuessLimit: 0 }, { now: clock.now });
    [alice, bob] = [await appia.token('alice'), await appia.token('bob')];
  });
  after(() => appia.stop());

  test('the device is told a code, where to approve it, how long it lasts and how often to poll; nothing of it may be cached', async () => {
    const res = await askToPair(appia);
    assert.equal(res.status, 200);
    assert.match(res.body['userCode'], CODE);
    assert.match(res.body['pairingId'], /^appia_pr_[A-Za-z0-9_-]{43}$/);
    assert.equal(res.body['verificationUri'], `${appia.url}/`);
    assert.equal(res.body['verificationUriComplete'], `${appia.url}/#pair=${res.body['userCode']}`);
    assert.equal(res.body['expiresIn'], 60);
    assert.equal(res.body['interval'], 1);
    assert.equal(res.headers.get('cache-control'), 'no-store');
  });

  test('polls wait while the code is unapproved; the owner approves it in any case, without its dash; the next poll gets the token, once', async () => {
    const { body: pairing } = await askToPair(appia, { name: 'Living room PC', kind: 'Desktop', platform: 'Linux' });
    const pending = await pollToken(appia, pairing['pairingId']);
    assert.equal(pending.status, 400);
    assert.deepEqual(pending.body, { error: 'authorization_pending', error_description: pending.body['error_description'], interval: 1 });

    const approved = await approve(appia, alice, String(pairing['userCode']).toLowerCase().replace('-', ''));
    assert.equal(approved.status, 201);
    assert.equal(approved.body.name, 'Living room PC');
    assert.equal(approved.body.platform, 'Linux');
    assert.equal(approved.body.status, 'Offline');
    assert.equal(approved.headers.get('location'), `${appia.url}/beta/me/devices/${approved.body.id}`);
    assert.equal(approved.body.deviceToken, undefined, 'the owner never sees the device token');

    clock.advance(1000);
    const issued = await pollToken(appia, pairing['pairingId']);
    assert.equal(issued.status, 200);
    assert.equal(issued.body['deviceId'], approved.body.id);
    assert.match(issued.body['deviceToken'], /^appia_dt_/);
    assert.equal(issued.headers.get('cache-control'), 'no-store');

    clock.advance(1000);
    const again = await pollToken(appia, pairing['pairingId']);
    assert.equal(again.status, 400);
    assert.equal(again.body['error'], 'invalid_grant');
    assert.equal(again.body['deviceToken'], undefined, 'the token is handed out once');

    const device = await connectDevice(appia, issued.body['deviceToken']);
    await device.close();
    assert.equal((await appia.api(alice, 'GET', `/beta/me/devices/${approved.body.id}`)).status, 200);
    assert.equal((await appia.api(bob, 'GET', `/beta/me/devices/${approved.body.id}`)).status, 404, "the device is the approver's only");
  });

  test('a device that polls sooner than its interval is told slow_down, and its interval grows by 5 s for good', async () => {
    const { body: pairing } = await askToPair(appia);
    assert.equal((await pollToken(appia, pairing['pairingId'])).body['error'], 'authorization_pending');
    const fast = await pollToken(appia, pairing['pairingId']);
    assert.equal(fast.status, 400);
    assert.equal(fast.body['error'], 'slow_down');
    assert.equal(fast.body['interval'], 6);
    clock.advance(1000);
    assert.equal((await pollToken(appia, pairing['pairingId'])).body['error'], 'slow_down', 'the old interval is too soon now');
    clock.advance(11_000);
    const waited = await pollToken(appia, pairing['pairingId']);
    assert.deepEqual([waited.body['error'], waited.body['interval']], ['authorization_pending', 11]);
  });

  test('a wrong code, a code approved already and an expired code are 404; the expired pairing polls expired_token', async () => {
    const wrong = await approve(appia, alice, 'BCDF-GHJK');
    assert.equal(wrong.status, 404);
    assert.equal(wrong.body.error.code, 'itemNotFound');
    assert.equal((await approve(appia, alice, 'not a code at all')).status, 404);

    const { body: once } = await askToPair(appia);
    assert.equal((await approve(appia, alice, once['userCode'])).status, 201);
    assert.equal((await approve(appia, alice, once['userCode'])).status, 404, 'a code is approved once');
    assert.equal((await approve(appia, bob, once['userCode'])).status, 404, 'and by one owner');

    const { body: late } = await askToPair(appia);
    clock.advance(60_000);
    assert.equal((await approve(appia, alice, late['userCode'])).status, 404);
    const expired = await pollToken(appia, late['pairingId']);
    assert.deepEqual([expired.status, expired.body['error']], [400, 'expired_token']);
    assert.equal((await pollToken(appia, 'appia_pr_made-up')).body['error'], 'invalid_grant');
  });

  test('an approved device that does not collect its token within the TTL gets expired_token', async () => {
    const { body: pairing } = await askToPair(appia);
    assert.equal((await approve(appia, bob, pairing['userCode'])).status, 201);
    clock.advance(60_000);
    assert.equal((await pollToken(appia, pairing['pairingId'])).body['error'], 'expired_token');
  });

  test('the owner can refuse a code: the device polls access_denied; a device removed before it collected its token too', async () => {
    const { body: refused } = await askToPair(appia);
    assert.equal((await appia.api(alice, 'POST', '/beta/me/devicePairings/deny', { userCode: refused['userCode'] })).status, 204);
    assert.equal((await pollToken(appia, refused['pairingId'])).body['error'], 'access_denied');
    assert.equal((await approve(appia, alice, refused['userCode'])).status, 404, 'a refused code cannot be approved');

    const { body: removed } = await askToPair(appia);
    const device = await approve(appia, bob, removed['userCode']);
    assert.equal((await appia.api(bob, 'DELETE', `/beta/me/devices/${device.body.id}`)).status, 204);
    clock.advance(1000);
    const poll = await pollToken(appia, removed['pairingId']);
    assert.deepEqual([poll.body['error'], poll.body['deviceToken']], ['access_denied', undefined]);
  });

  test("an owner at the device limit is refused 409 and the code stays pending until they make room", async () => {
    const carol = await appia.token('carol');
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await appia.addDevice(carol)).id);
    const { body: pairing } = await askToPair(appia);
    const full = await approve(appia, carol, pairing['userCode']);
    assert.equal(full.status, 409);
    assert.equal((await appia.api(carol, 'DELETE', `/beta/me/devices/${ids[0]}`)).status, 204);
    assert.equal((await approve(appia, carol, pairing['userCode'])).status, 201);
  });

  test("bad input is refused in Graph's shape and stores nothing", async () => {
    const noName = await askToPair(appia, { kind: 'Desktop' });
    assert.equal(noName.status, 400);
    assert.equal(noName.body['error']['code'], 'BadRequest');
    const res = await fetch(`${appia.url}/devices/pair/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as any).error.code, 'BadRequest');
    assert.equal((await appia.api(alice, 'POST', '/beta/me/devicePairings', {})).status, 400);
    assert.equal((await appia.api(await appia.token('dave', { scopes: ['Device.Read'] }), 'POST', '/beta/me/devicePairings', { userCode: 'BCDF-GHJK' })).status, 403);
  });
});

describe('guessing pairing codes', () => {
  let appia: TestAppia;
  before(async () => {
    appia = await startTestAppia({ pairingGuessLimit: 3 });
  });
  after(() => appia.stop());

  test('past the limit of wrong codes a minute, even the right code is 429 with Retry-After, for the guesser and their address', async () => {
    const mallory = await appia.token('mallory');
    const { body: pairing } = await askToPair(appia);
    for (const guess of ['BCDF-GHJK', 'BCDF-GHJL', 'BCDF-GHJM']) assert.equal((await approve(appia, mallory, guess)).status, 404);
    const limited = await approve(appia, mallory, pairing['userCode']);
    assert.equal(limited.status, 429);
    assert.equal(limited.body.error.code, 'TooManyRequests');
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    // another account from the same address is held back too
    assert.equal((await approve(appia, await appia.token('mallory2'), pairing['userCode'])).status, 429);
    assert.equal((await pollToken(appia, pairing['pairingId'])).body['error'], 'authorization_pending', 'the device still waits for its owner');
  });
});

describe('what pairing leaves behind', () => {
  test('neither the log nor the database files hold the pairing id, the user code or the device token', async () => {
    const logs = new LogCapture();
    const clock = testClock();
    const appia = await startTestAppia({ logLevel: 'info', pairingIntervalMs: 1000 }, { logDestination: logs, now: clock.now });
    try {
      const alice = await appia.token('alice');
      const { body: pairing } = await askToPair(appia);
      await pollToken(appia, pairing['pairingId']);
      assert.equal((await approve(appia, alice, pairing['userCode'])).status, 201);
      clock.advance(1000);
      const issued = await pollToken(appia, pairing['pairingId']);
      assert.equal(issued.status, 200);
      const secrets = [pairing['pairingId'], pairing['userCode'], String(pairing['userCode']).replace('-', ''), issued.body['deviceToken']];
      await appia.store.close(); // everything written out to the files
      const files = (await readdir(appia.dataDir)).filter((f) => f.startsWith('appia.db'));
      const stored = Buffer.concat(await Promise.all(files.map((f) => readFile(join(appia.dataDir, f)))));
      for (const secret of secrets) {
        assert.equal(logs.all().includes(secret), false, `the log holds ${secret}`);
        assert.equal(stored.includes(Buffer.from(secret)), false, `the database holds ${secret}`);
      }
      assert.ok(logs.lines.some((l) => l['route'] === '/devices/pair/token'), 'the polls are logged, without their bodies');
    } finally {
      await appia.stop();
    }
  });
});
