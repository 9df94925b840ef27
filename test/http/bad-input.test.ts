import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAppia, type TestAppia } from '../support/appia.js';

/**
 * Bad input gets a clear Graph error and changes nothing (issue: "never a
 * 500 for bad input, and never a half-written command").
 */
describe('bad input on command creation', () => {
  let appia: TestAppia;
  let alice: string;
  let device: string;
  before(async () => {
    appia = await startTestAppia({ maxBodyBytes: 4096, maxPayloadBytes: 1024, maxJsonDepth: 8 });
    alice = await appia.token('alice');
    device = (await appia.addDevice(alice)).id;
  });
  after(() => appia.stop());

  const deep = (n: number): unknown => (n === 0 ? 1 : { a: deep(n - 1) });
  const cases: Array<{ name: string; body: unknown; contentType?: string; status: number; code: string; message: RegExp }> = [
    { name: 'malformed JSON', body: '{"type": "LaunchUri", ', status: 400, code: 'BadRequest', message: /JSON/ },
    { name: 'a JSON array', body: '[]', status: 400, code: 'BadRequest', message: /object/ },
    { name: 'no type', body: { payload: { uri: 'https://x.test' } }, status: 400, code: 'BadRequest', message: /type/ },
    { name: 'type of the wrong JSON type', body: { type: 7, payload: { uri: 'https://x.test' } }, status: 400, code: 'BadRequest', message: /type/ },
    { name: 'unknown type', body: { type: 'RunScript', payload: {} }, status: 400, code: 'BadRequest', message: /LaunchUri or AppService/ },
    { name: 'LaunchUri without a payload', body: { type: 'LaunchUri' }, status: 400, code: 'BadRequest', message: /payload\.uri/ },
    { name: 'LaunchUri with a relative uri', body: { type: 'LaunchUri', payload: { uri: '/relative/path' } }, status: 400, code: 'BadRequest', message: /absolute/ },
    { name: 'LaunchUri with a non-string uri', body: { type: 'LaunchUri', payload: { uri: 42 } }, status: 400, code: 'BadRequest', message: /payload\.uri/ },
    { name: 'payload that is a string', body: { type: 'LaunchUri', payload: 'https://x.test' }, status: 400, code: 'BadRequest', message: /payload/ },
    { name: 'AppService without appServiceName', body: { type: 'AppService', packageFamilyName: 'P_1', payload: {} }, status: 400, code: 'BadRequest', message: /appServiceName/ },
    { name: 'AppService without packageFamilyName', body: { type: 'AppService', appServiceName: 'svc', payload: {} }, status: 400, code: 'BadRequest', message: /packageFamilyName/ },
    { name: 'AppService with a blank appServiceName', body: { type: 'AppService', appServiceName: '  ', packageFamilyName: 'P_1' }, status: 400, code: 'BadRequest', message: /appServiceName/ },
    { name: 'an unknown property', body: { type: 'LaunchUri', payload: { uri: 'https://x.test' }, priority: 'high' }, status: 400, code: 'BadRequest', message: /priority/ },
    { name: 'one property in two casings', body: { type: 'LaunchUri', Type: 'AppService', payload: { uri: 'https://x.test' } }, status: 400, code: 'BadRequest', message: /more than once/ },
    { name: 'a postBackUri that is not a URL', body: { type: 'LaunchUri', payload: { uri: 'https://x.test' }, postBackUri: 'not a url' }, status: 400, code: 'BadRequest', message: /postBackUri/ },
    { name: 'an expirationDateTime in the past', body: { type: 'LaunchUri', payload: { uri: 'https://x.test' }, expirationDateTime: '2001-01-01T00:00:00Z' }, status: 400, code: 'BadRequest', message: /future/ },
    { name: 'an expirationDateTime that is not a date', body: { type: 'LaunchUri', payload: { uri: 'https://x.test' }, expirationDateTime: 'tomorrow' }, status: 400, code: 'BadRequest', message: /ISO 8601/ },
    { name: 'a payload nested too deep', body: { type: 'AppService', appServiceName: 's', packageFamilyName: 'p', payload: deep(12) }, status: 400, code: 'BadRequest', message: /deeper/ },
    { name: 'a payload over its own limit', body: { type: 'AppService', appServiceName: 's', packageFamilyName: 'p', payload: { blob: 'x'.repeat(2000) } }, status: 413, code: 'requestEntityTooLarge', message: /payload/ },
    { name: 'a body over the body limit', body: { type: 'AppService', appServiceName: 's', packageFamilyName: 'p', payload: { blob: 'x'.repeat(8000) } }, status: 413, code: 'requestEntityTooLarge', message: /body/ },
    { name: 'a body sent as text/plain', body: '{"type":"LaunchUri","payload":{"uri":"https://x.test"}}', contentType: 'text/plain', status: 400, code: 'BadRequest', message: /application\/json/ },
    { name: 'a __proto__ key', body: '{"type":"LaunchUri","payload":{"uri":"https://x.test"},"__proto__":{"polluted":true}}', status: 400, code: 'BadRequest', message: /./ },
  ];

  for (const c of cases) {
    test(`${c.name}: ${c.status} ${c.code}, nothing stored`, async () => {
      const before = await appia.api(alice, 'GET', `/beta/me/devices/${device}/commands`);
      const headers = c.contentType ? { 'content-type': c.contentType } : undefined;
      const res = await appia.api(alice, 'POST', `/beta/me/devices/${device}/commands`, c.body, headers);
      assert.equal(res.status, c.status, JSON.stringify(res.body));
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(res.body.error.code, c.code);
      assert.match(res.body.error.message, c.message);
      assert.ok(res.body.error.innerError['request-id']);
      const after = await appia.api(alice, 'GET', `/beta/me/devices/${device}/commands`);
      assert.deepEqual(after.body.value, before.body.value, 'no command was stored');
    });
  }

  test('ids that do not exist are 404, never 500', async () => {
    const paths = [
      `/beta/me/devices/${device}/commands/0123456789ABCDEF0123456789ABCDEF0123456789AB`,
      `/beta/me/devices/${device}/commands/not-an-id`,
      `/beta/me/devices/00000000-0000-0000-0000-000000000000/commands`,
      `/beta/me/devices/not-a-uuid`,
      `/beta/me/devices/${device}/commands/0123456789ABCDEF0123456789ABCDEF0123456789AB/responsePayload`,
    ];
    for (const p of paths) {
      const res = await appia.api(alice, 'GET', p);
      assert.equal(res.status, 404, p);
      assert.equal(res.body.error.code, 'itemNotFound');
    }
    const badUrl = await appia.api(alice, 'GET', `/beta/me/devices/${device}/commands/%00%ff/history`);
    assert.equal(badUrl.status, 400);
    assert.equal(badUrl.body.error.code, 'BadRequest');
    const cancel = await appia.api(alice, 'POST', `/beta/me/devices/${device}/commands/0123456789ABCDEF0123456789ABCDEF0123456789AB/cancel`);
    assert.equal(cancel.status, 404);
  });

  test('bad query options are 400 with the option named', async () => {
    for (const [q, word] of [
      ['$top=0', /\$top/],
      ['$top=abc', /\$top/],
      ["$filter=name eq 'x'", /\$filter/],
      ["$filter=status eq 'bogus'", /unknown status/],
      ['$skiptoken=garbage!', /\$skiptoken/],
    ] as const) {
      const res = await appia.api(alice, 'GET', `/beta/me/devices/${device}/commands?${q}`);
      assert.equal(res.status, 400, q);
      assert.match(res.body.error.message, word);
    }
  });

  test('an Idempotency-Key that is too long is refused', async () => {
    const res = await appia.api(alice, 'POST', `/beta/me/devices/${device}/commands`, { type: 'LaunchUri', payload: { uri: 'https://x.test' } }, { 'Idempotency-Key': 'k'.repeat(300) });
    assert.equal(res.status, 400);
    assert.match(res.body.error.message, /Idempotency-Key/);
  });
});
