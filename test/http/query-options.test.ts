import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { connectDevice, type TestDevice } from '../gateway/support.js';

/**
 * DESIGN 2: a query option a route does not support is 400 naming it, never
 * silently ignored; `$filter=status eq '...'` works on devices; `$expand=responsepayload`
 * puts the answer inline; ids and `/users/{own id}` paths match as Graph clients write them.
 */
describe('query options, ids and paths as Graph clients write them', () => {
  let appia: TestAppia;
  let alice: string;
  let online: { id: string; deviceToken: string };
  let offline: { id: string };
  let device: TestDevice;
  let answered: string;
  let waiting: string;
  before(async () => {
    appia = await startTestAppia();
    alice = await appia.token('alice');
    online = await appia.addDevice(alice, 'online one');
    offline = await appia.addDevice(alice, 'offline one');
    device = await connectDevice(appia, online.deviceToken);
    answered = (await appia.api(alice, 'POST', `/beta/me/devices/${online.id}/commands`, { type: 'LaunchUri', payload: { uri: 'https://x.test/a' } })).body.id;
    const frame = await device.command();
    assert.equal((await device.report({ t: 'completed', id: frame.command.id, responsePayload: { opened: true, n: 3 } })).t, 'ack');
    waiting = (await appia.api(alice, 'POST', `/beta/me/devices/${offline.id}/commands`, { type: 'LaunchUri', payload: { uri: 'https://x.test/b' } })).body.id;
  });
  after(async () => {
    await device.close();
    await appia.stop();
  });

  const routes = () => [
    ['GET', '/beta/me/devices'],
    ['GET', `/beta/me/devices/${offline.id}`],
    ['POST', '/beta/me/devices'],
    ['DELETE', `/beta/me/devices/${offline.id}`],
    ['GET', `/beta/me/devices/${offline.id}/commands`],
    ['POST', `/beta/me/devices/${offline.id}/commands`],
    ['GET', `/beta/me/devices/${offline.id}/commands/${waiting}`],
    ['GET', `/beta/me/devices/${offline.id}/command/${waiting}`],
    ['GET', `/beta/me/devices/${offline.id}/commands/${waiting}/responsePayload`],
    ['POST', `/beta/me/devices/${offline.id}/commands/${waiting}/cancel`],
    ['GET', `/beta/me/devices/${offline.id}/commands/${waiting}/history`],
    ['GET', `/beta/me/devices/${offline.id}/commands/${waiting}/events`],
    ['GET', `/beta/me/devices/${offline.id}/commands/${waiting}/postbacks`],
    ['GET', '/beta/me/postBackSecret'],
    ['POST', '/beta/me/postBackSecret/rotate'],
    ['GET', '/beta/me/events'],
  ] as const;

  test('when a client sends a query option the route does not support, every route answers 400 naming it and changes nothing', async () => {
    const before = await appia.api(alice, 'GET', `/beta/me/devices/${offline.id}/commands`);
    for (const option of ['$select=id', '$orderby=name', '$count=true', '$search=x', '$skip=1', '$format=json', '$apply=x', '$frobnicate=1', 'select=id', '$SELECT=id']) {
      for (const [method, path] of routes()) {
        const res = await appia.api(alice, method, `${path}?${option}`, method === 'POST' ? {} : undefined);
        const name = option.split('=')[0]!;
        assert.equal(res.status, 400, `${method} ${path}?${option}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.code, 'BadRequest');
        assert.ok(res.body.error.message.includes(`"${name}"`), res.body.error.message);
      }
    }
    const after = await appia.api(alice, 'GET', `/beta/me/devices/${offline.id}/commands`);
    assert.deepEqual(after.body.value, before.body.value);
    assert.equal((await appia.api(alice, 'GET', `/beta/me/devices/${offline.id}`)).status, 200, 'the DELETE with a bad option removed nothing');
  });

  test('$expand and $filter are refused where they do not apply, and an option given twice is refused', async () => {
    const expandDevices = await appia.api(alice, 'GET', '/beta/me/devices?$expand=commands');
    assert.equal(expandDevices.status, 400);
    assert.match(expandDevices.body.error.message, /\$expand/);
    const filterHistory = await appia.api(alice, 'GET', `/beta/me/devices/${offline.id}/commands/${waiting}/history?$filter=status eq 'requesting'`);
    assert.equal(filterHistory.status, 400);
    const twice = await appia.api(alice, 'GET', '/beta/me/devices?$top=1&$TOP=2');
    assert.equal(twice.status, 400);
    assert.match(twice.body.error.message, /\$top is given more than once/);
  });

  test("the device list filters by status: status eq 'Online' lists only the connected device", async () => {
    const only = async (filter: string) => {
      const res = await appia.api(alice, 'GET', `/beta/me/devices?$filter=${encodeURIComponent(filter)}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body.value.map((d: { id: string; status: string }) => `${d.id}:${d.status}`);
    };
    assert.deepEqual(await only("status eq 'Online'"), [`${online.id}:Online`]);
    assert.deepEqual(await only("Status eq 'offline'"), [`${offline.id}:Offline`]);
    assert.deepEqual(await only("status eq 'Standby'"), []);
    const pages = await appia.api(alice, 'GET', `/beta/me/devices?$top=1&$filter=${encodeURIComponent("status eq 'Offline'")}`);
    assert.equal(pages.body.value.length, 1);
    assert.equal(pages.body['@odata.nextLink'], undefined, 'the filter applies before paging');
    for (const [filter, message] of [
      ["name eq 'x'", /cannot filter on name/],
      ["status eq 'asleep'", /unknown status "asleep".*Online, Offline, Standby, Unknown/],
      ["status ne 'Online'", /only status eq/],
    ] as const) {
      const res = await appia.api(alice, 'GET', `/beta/me/devices?$filter=${encodeURIComponent(filter)}`);
      assert.equal(res.status, 400, filter);
      assert.match(res.body.error.message, message);
    }
  });

  test('$expand=responsepayload puts the answer inline on a command and on a list, null until the device answers', async () => {
    const one = await appia.api(alice, 'GET', `/beta/me/devices/${online.id}/commands/${answered}?$expand=responsepayload`);
    assert.equal(one.status, 200);
    assert.deepEqual(one.body.responsepayload, { opened: true, n: 3 });
    assert.deepEqual(one.body.responsePayload, { opened: true, n: 3 });
    const plain = await appia.api(alice, 'GET', `/beta/me/devices/${online.id}/commands/${answered}`);
    assert.equal('responsepayload' in plain.body, false, 'only when asked for');
    const list = await appia.api(alice, 'GET', `/beta/me/devices/${online.id}/commands?$expand=ResponsePayload`);
    assert.deepEqual(list.body.value.map((c: { responsepayload: unknown }) => c.responsepayload), [{ opened: true, n: 3 }]);
    const pending = await appia.api(alice, 'GET', `/beta/me/devices/${offline.id}/command/${waiting}?expand=responsepayload`);
    assert.equal(pending.body.responsepayload, null);
    const other = await appia.api(alice, 'GET', `/beta/me/devices/${online.id}/commands/${answered}?$expand=device`);
    assert.equal(other.status, 400);
    assert.match(other.body.error.message, /\$expand supports only responsepayload \(got "device"\)/);
  });

  test('$top, $filter and $skiptoken are read with or without $ and in any case', async () => {
    const res = await appia.api(alice, 'GET', `/beta/me/devices?TOP=1&Filter=${encodeURIComponent("status eq 'Offline'")}`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.value.map((d: { id: string }) => d.id), [offline.id]);
  });

  test('a device id in upper case finds the device, as command ids do', async () => {
    const upper = online.id.toUpperCase();
    const read = await appia.api(alice, 'GET', `/beta/me/devices/${upper}`);
    assert.equal(read.status, 200);
    assert.equal(read.body.id, online.id);
    const command = await appia.api(alice, 'GET', `/beta/me/devices/${upper}/commands/${answered.toLowerCase()}`);
    assert.equal(command.status, 200);
    assert.equal(command.body.id, answered);
    const created = await appia.api(alice, 'POST', `/beta/me/devices/${offline.id.toUpperCase()}/commands`, { type: 'LaunchUri', payload: { uri: 'https://x.test/c' } });
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('location'), `${appia.url}/beta/me/devices/${offline.id}/commands/${created.body.id}`);
  });

  test("/beta/users/{the caller's own id}/... is served as /beta/me/...; any other user id is 404", async () => {
    const mine = await appia.api(alice, 'GET', `/beta/users/alice/devices/${online.id}/commands/${answered}`);
    assert.equal(mine.status, 200);
    assert.equal(mine.body.id, answered);
    const list = await appia.api(alice, 'GET', '/v1.0/Users/alice/devices');
    assert.equal(list.status, 200);
    assert.equal(list.body.value.length, 2);
    const bob = await appia.token('bob');
    for (const path of ['/beta/users/alice/devices', `/beta/users/alice/devices/${online.id}`, `/beta/users/carol/devices/${online.id}/commands`]) {
      const res = await appia.api(bob, 'GET', path);
      assert.equal(res.status, 404, path);
      assert.equal(res.body.error.code, 'itemNotFound');
      assert.ok(!JSON.stringify(res.body).includes(online.id), 'nothing of alice is echoed');
    }
    const unauthenticated = await fetch(`${appia.url}/beta/users/alice/devices`);
    assert.equal(unauthenticated.status, 401);
  });
});
