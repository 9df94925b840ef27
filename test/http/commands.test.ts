import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAppia, type TestAppia } from '../support/appia.js';

describe('commands: create, read, list, cancel and history over the Graph API', () => {
  let appia: TestAppia;
  let alice: string;
  let device: string;
  before(async () => {
    // DESIGN 6: the made-up postback host is resolved (create) and sent to (dispatcher) only on loopback, never asked of real DNS
    appia = await startTestAppia({ postbackAllow: ['hooks.example.com'] }, { postbacks: { lookup: async () => [{ address: '127.0.0.1', family: 4 }] } });
    alice = await appia.token('alice');
    device = (await appia.addDevice(alice)).id;
  });
  after(() => appia.stop());

  const create = (body: unknown, headers?: Record<string, string>, dev = device) => appia.api(alice, 'POST', `/beta/me/devices/${dev}/commands`, body, headers);

  test('a LaunchUri command is stored as requesting and read back with both path spellings', async () => {
    const res = await create({ type: 'LaunchUri', payload: { uri: 'https://example.com/page' } });
    assert.equal(res.status, 201);
    const c = res.body;
    assert.match(c.id, /^[0-9A-F]{44}$/);
    assert.equal(c.status, 'requesting');
    assert.equal(c.type, 'LaunchUri');
    assert.deepEqual(c.payload, { uri: 'https://example.com/page' });
    assert.equal(c.appServiceName, null);
    assert.equal(c.responsePayload, null);
    assert.equal(c.error, null);
    assert.ok(Date.parse(c.expirationDateTime) - Date.parse(c.createdDateTime) === 24 * 3600 * 1000, 'default expiry is 24 h');
    assert.match(c['@odata.context'], /commands\/\$entity$/);
    assert.equal(res.headers.get('location'), `${appia.url}/beta/me/devices/${device}/commands/${c.id}`);
    for (const path of [`commands/${c.id}`, `command/${c.id}`, `Commands/${c.id.toLowerCase()}`]) {
      const read = await appia.api(alice, 'GET', `/beta/me/devices/${device}/${path}`);
      assert.equal(read.status, 200, path);
      assert.equal(read.body.id, c.id);
      assert.equal(read.body.status, 'requesting');
    }
  });

  test('an AppService command keeps its service, package, ticket and payload; input names and type are case-insensitive', async () => {
    const res = await create({
      Type: 'appservice',
      PAYLOAD: { action: 'lock', level: 3, nested: { ok: true } },
      appservicename: 'com.contoso.lock',
      PackageFamilyName: 'Contoso.Lock_8wekyb3d8bbwe',
      permissionticket: 'ticket-123',
      postBackURI: 'https://hooks.example.com/appia',
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.type, 'AppService');
    assert.equal(res.body.appServiceName, 'com.contoso.lock');
    assert.equal(res.body.packageFamilyName, 'Contoso.Lock_8wekyb3d8bbwe');
    assert.equal(res.body.permissionTicket, 'ticket-123');
    assert.equal(res.body.postBackUri, 'https://hooks.example.com/appia');
    assert.deepEqual(res.body.payload, { action: 'lock', level: 3, nested: { ok: true } });
    for (const type of ['LaunchURI', 'launchUri', 'LAUNCHURI']) {
      const r = await create({ type, payload: { uri: 'ms-settings:display' } });
      assert.equal(r.status, 201, type);
      assert.equal(r.body.type, 'LaunchUri');
    }
  });

  test('expirationDateTime may be set on create, at most 30 days ahead', async () => {
    const at = new Date(Date.now() + 3600_000).toISOString();
    const res = await create({ type: 'LaunchUri', payload: { uri: 'https://e.test' }, expirationDateTime: at });
    assert.equal(res.status, 201);
    assert.equal(res.body.expirationDateTime, at);
    const far = await create({ type: 'LaunchUri', payload: { uri: 'https://e.test' }, expirationDateTime: new Date(Date.now() + 31 * 86400_000).toISOString() });
    assert.equal(far.status, 400);
    assert.match(far.body.error.message, /30 days/);
  });

  test('the list is newest first, pages with $top and nextLink, and filters by status', async () => {
    const dev = (await appia.addDevice(alice, 'lister')).id;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await create({ type: 'LaunchUri', payload: { uri: `https://e.test/${i}` } }, undefined, dev)).body.id);
    const seen: string[] = [];
    let url: string | undefined = `${appia.url}/beta/me/devices/${dev}/commands?$top=2`;
    while (url) {
      const res: Response = await fetch(url, { headers: { authorization: `Bearer ${alice}` } });
      const body = (await res.json()) as { value: { id: string }[]; '@odata.nextLink'?: string };
      seen.push(...body.value.map((c) => c.id));
      url = body['@odata.nextLink'];
    }
    assert.deepEqual(seen, [...ids].reverse());

    await appia.api(alice, 'POST', `/beta/me/devices/${dev}/commands/${ids[1]}/cancel`);
    const canceled = await appia.api(alice, 'GET', `/beta/me/devices/${dev}/commands?$filter=status eq 'canceled'`);
    assert.deepEqual(canceled.body.value.map((c: { id: string }) => c.id), [ids[1]]);
    const requesting = await appia.api(alice, 'GET', `/beta/me/devices/${dev}/commands?$filter=${encodeURIComponent("status eq 'requesting'")}`);
    assert.equal(requesting.body.value.length, 4);
  });

  test('cancelling a command that never reached the device ends it canceled, and the history tells the story', async () => {
    const c = (await create({ type: 'LaunchUri', payload: { uri: 'https://e.test' } })).body;
    const res = await appia.api(alice, 'POST', `/beta/me/devices/${device}/commands/${c.id}/cancel`);
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'canceled');
    const history = await appia.api(alice, 'GET', `/beta/me/devices/${device}/commands/${c.id}/history`);
    assert.equal(history.status, 200);
    assert.deepEqual(history.body.value.map((h: { status: string }) => h.status), ['requesting', 'cancel', 'canceled']);
    for (const h of history.body.value) assert.ok(!Number.isNaN(Date.parse(h.dateTime)));
    const again = await appia.api(alice, 'POST', `/beta/me/devices/${device}/commands/${c.id}/cancel`);
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'conflict');
    assert.match(again.body.error.message, /canceled/);
  });

  test('the response payload is 404 until the device answers', async () => {
    const c = (await create({ type: 'LaunchUri', payload: { uri: 'https://e.test' } })).body;
    for (const spelling of ['responsePayload', 'responsepayload']) {
      const res = await appia.api(alice, 'GET', `/beta/me/devices/${device}/command/${c.id}/${spelling}`);
      assert.equal(res.status, 404);
      assert.equal(res.body.error.code, 'itemNotFound');
    }
  });

  test('an Idempotency-Key makes a retried create return the first command', async () => {
    const body = { type: 'LaunchUri', payload: { uri: 'https://e.test/once' } };
    const first = await create(body, { 'Idempotency-Key': 'order-42' });
    const second = await create(body, { 'Idempotency-Key': 'order-42' });
    assert.equal(first.status, 201);
    assert.equal(second.body.id, first.body.id);
    assert.equal(second.headers.get('idempotent-replayed'), 'true');
    const other = await create(body, { 'Idempotency-Key': 'order-43' });
    assert.notEqual(other.body.id, first.body.id);
    // The key is per user: bob's use of it is his own.
    const bob = await appia.token('bob');
    const bobDevice = (await appia.addDevice(bob)).id;
    const bobs = await appia.api(bob, 'POST', `/beta/me/devices/${bobDevice}/commands`, body, { 'Idempotency-Key': 'order-42' });
    assert.equal(bobs.status, 201);
    assert.notEqual(bobs.body.id, first.body.id);
  });

  test('every answer carries request-id and echoes client-request-id', async () => {
    const res = await appia.api(alice, 'GET', `/beta/me/devices/${device}/commands`, undefined, { 'client-request-id': 'abc-123' });
    assert.match(res.headers.get('request-id')!, /^[0-9a-f-]{36}$/);
    assert.equal(res.headers.get('client-request-id'), 'abc-123');
    const err = await appia.api(alice, 'GET', `/beta/me/devices/${device}/commands/nope`, undefined, { 'client-request-id': 'xyz' });
    assert.equal(err.status, 404);
    assert.equal(err.body.error.innerError['request-id'], err.headers.get('request-id'));
    assert.equal(err.headers.get('client-request-id'), 'xyz');
  });

  test('Prefer: wait on a command that does not finish answers after the wait with Preference-Applied', async () => {
    const c = (await create({ type: 'LaunchUri', payload: { uri: 'https://e.test' } })).body;
    const started = Date.now();
    const res = await appia.api(alice, 'GET', `/beta/me/devices/${device}/commands/${c.id}`, undefined, { Prefer: 'wait=1' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('preference-applied'), 'wait=1');
    assert.equal(res.body.status, 'requesting');
    assert.ok(Date.now() - started >= 900);
  });
});
