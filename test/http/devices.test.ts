import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAppia, type TestAppia } from '../support/appia.js';

describe('devices: a user registers, lists, reads and removes their devices', () => {
  let appia: TestAppia;
  let alice: string;
  let bob: string;
  before(async () => {
    appia = await startTestAppia();
    alice = await appia.token('alice');
    bob = await appia.token('bob');
  });
  after(() => appia.stop());

  test('registering a device answers 201 with the device, its token once, and a Location', async () => {
    const res = await appia.api(alice, 'POST', '/beta/me/devices', { Name: 'Kitchen PC', KIND: 'Desktop', platform: 'Windows', model: 'X1', manufacturer: 'Contoso' });
    assert.equal(res.status, 201);
    assert.match(res.headers.get('content-type')!, /^application\/json/);
    assert.match(res.body.id, /^[0-9a-f-]{36}$/);
    assert.equal(res.body.name, 'Kitchen PC');
    assert.equal(res.body.kind, 'Desktop');
    assert.equal(res.body.status, 'Offline');
    assert.match(res.body.deviceToken, /^appia_dt_[A-Za-z0-9_-]{43}$/);
    assert.equal(res.headers.get('location'), `${appia.url}/beta/me/devices/${res.body.id}`);
    const read = await appia.api(alice, 'GET', `/beta/me/devices/${res.body.id}`);
    assert.equal(read.status, 200);
    assert.equal(read.body.deviceToken, undefined, 'the token is shown only once');
    assert.equal(read.body.manufacturer, 'Contoso');
    assert.match(read.body['@odata.context'], /\$metadata#users\('alice'\)\/devices\/\$entity$/);
  });

  test('the device list pages with $top and a followable absolute @odata.nextLink', async () => {
    const carol = await appia.token('carol');
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await appia.addDevice(carol, `d${i}`)).id);
    const seen: string[] = [];
    let url: string | undefined = `${appia.url}/beta/me/devices?$top=2`;
    let pages = 0;
    while (url) {
      const res: Response = await fetch(url, { headers: { authorization: `Bearer ${carol}` } });
      const body = (await res.json()) as { value: { id: string }[]; '@odata.nextLink'?: string };
      assert.equal(res.status, 200);
      assert.ok(body.value.length <= 2);
      seen.push(...body.value.map((d) => d.id));
      url = body['@odata.nextLink'];
      if (url) assert.ok(url.startsWith(appia.url + '/beta/me/devices?'), url);
      pages++;
    }
    assert.equal(pages, 3);
    assert.deepEqual(seen, ids);
  });

  test("another user's device is not found, so its existence never leaks", async () => {
    const { id } = await appia.addDevice(alice, 'private');
    for (const [method, path] of [
      ['GET', `/beta/me/devices/${id}`],
      ['DELETE', `/beta/me/devices/${id}`],
      ['GET', `/beta/me/devices/${id}/commands`],
      ['POST', `/beta/me/devices/${id}/commands`],
    ] as const) {
      const res = await appia.api(bob, method, path, method === 'POST' ? { type: 'LaunchUri', payload: { uri: 'https://x.test' } } : undefined);
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.equal(res.body.error.code, 'itemNotFound');
    }
    const bobs = await appia.api(bob, 'GET', '/beta/me/devices');
    assert.deepEqual(bobs.body.value, []);
    assert.equal((await appia.api(alice, 'GET', `/beta/me/devices/${id}`)).status, 200, 'still there for its owner');
  });

  test('removing a device answers 204, after which it is gone', async () => {
    const { id } = await appia.addDevice(alice, 'old');
    assert.equal((await appia.api(alice, 'DELETE', `/beta/me/devices/${id}`)).status, 204);
    assert.equal((await appia.api(alice, 'GET', `/beta/me/devices/${id}`)).status, 404);
    assert.equal((await appia.api(alice, 'DELETE', `/beta/me/devices/${id}`)).status, 404);
    const list = await appia.api(alice, 'GET', '/beta/me/devices');
    assert.ok(!list.body.value.some((d: { id: string }) => d.id === id));
  });

  test('the same routes answer under /v1.0 and with any path casing', async () => {
    const { id } = await appia.addDevice(alice, 'cased');
    assert.equal((await appia.api(alice, 'GET', `/v1.0/me/devices/${id}`)).status, 200);
    assert.equal((await appia.api(alice, 'GET', `/BETA/Me/Devices/${id}`)).status, 200);
  });

  test('a device needs a name; unknown properties are refused', async () => {
    const noName = await appia.api(alice, 'POST', '/beta/me/devices', { kind: 'Phone' });
    assert.equal(noName.status, 400);
    assert.equal(noName.body.error.code, 'BadRequest');
    assert.match(noName.body.error.message, /name/);
    const extra = await appia.api(alice, 'POST', '/beta/me/devices', { name: 'x', colour: 'red' });
    assert.equal(extra.status, 400);
    assert.match(extra.body.error.message, /colour/);
  });
});
