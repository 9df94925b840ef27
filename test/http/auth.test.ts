import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { signWithIssuerKey } from '../support/tokens.js';

describe('auth at the HTTP API (DESIGN 5)', () => {
  let appia: TestAppia;
  let alice: string;
  before(async () => {
    appia = await startTestAppia();
    alice = await appia.token('alice');
    await appia.addDevice(alice);
  });
  after(() => appia.stop());

  const get = (authorization: string | undefined) =>
    fetch(`${appia.url}/beta/me/devices`, { headers: authorization === undefined ? {} : { authorization } }).then(async (r) => ({ status: r.status, body: (await r.json()) as any, headers: r.headers }));

  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

  test('a good token lists the devices', async () => {
    const res = await get(`Bearer ${alice}`);
    assert.equal(res.status, 200);
    assert.equal(res.body.value.length, 1);
  });

  const refused: Array<[string, () => Promise<string | undefined>]> = [
    ['no Authorization header', async () => undefined],
    ['a Basic header', async () => 'Basic YWxpY2U6cHc='],
    ['a token that is not a JWT', async () => 'Bearer abc.def'],
    ['an expired token', async () => `Bearer ${await signWithIssuerKey(appia.dataDir, { sub: 'alice', scp: 'Device.Command' }, { expiresAt: Math.floor(Date.now() / 1000) - 3600 })}`],
    ['a token not valid yet', async () => `Bearer ${await signWithIssuerKey(appia.dataDir, { sub: 'alice', scp: 'Device.Command' }, { notBefore: Math.floor(Date.now() / 1000) + 3600 })}`],
    ['a token for another audience', async () => `Bearer ${await signWithIssuerKey(appia.dataDir, { sub: 'alice', scp: 'Device.Command' }, { audience: 'https://graph.microsoft.com' })}`],
    ['a token from another issuer', async () => `Bearer ${await signWithIssuerKey(appia.dataDir, { sub: 'alice', scp: 'Device.Command' }, { issuer: 'https://evil.test' })}`],
    ['a tampered payload', async () => {
      const [h, , s] = alice.split('.');
      return `Bearer ${h}.${b64({ sub: 'bob', scp: 'Device.Read Device.Command', exp: Math.floor(Date.now() / 1000) + 600 })}.${s}`;
    }],
    ['a tampered signature', async () => `Bearer ${alice.slice(0, -4)}${alice.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`],
    ['alg none', async () => {
      const [, p] = alice.split('.');
      return `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${p}.`;
    }],
  ];
  for (const [name, make] of refused) {
    test(`${name} is 401 InvalidAuthenticationToken`, async () => {
      const res = await get(await make());
      assert.equal(res.status, 401);
      assert.equal(res.body.error.code, 'InvalidAuthenticationToken');
      assert.ok(!JSON.stringify(res.body).includes(alice), 'the token is never echoed');
    });
  }

  test('an app-only token is 403: Application: Not supported', async () => {
    const res = await get(`Bearer ${await appia.token('daemon', { appOnly: true })}`);
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, 'Authorization_RequestDenied');
    assert.match(res.body.error.message, /Application: Not supported/);
  });

  test('Device.Read may read devices but not send or read commands', async () => {
    const reader = await appia.token('alice', { scopes: ['Device.Read'] });
    const devices = await appia.api(reader, 'GET', '/beta/me/devices');
    assert.equal(devices.status, 200);
    const id = devices.body.value[0].id;
    const send = await appia.api(reader, 'POST', `/beta/me/devices/${id}/commands`, { type: 'LaunchUri', payload: { uri: 'https://x.test' } });
    assert.equal(send.status, 403);
    assert.match(send.body.error.message, /Device\.Command/);
    assert.equal((await appia.api(reader, 'GET', `/beta/me/devices/${id}/commands`)).status, 403);
    assert.equal((await appia.api(reader, 'POST', '/beta/me/devices', { name: 'x' })).status, 403);
    const list = await appia.api(alice, 'GET', `/beta/me/devices/${id}/commands`);
    assert.equal(list.body.value.length, 0, 'nothing was created');
  });

  test('the embedded issuer publishes its discovery document and public keys only', async () => {
    const disco = (await (await fetch(`${appia.url}/.well-known/openid-configuration`)).json()) as any;
    assert.match(disco.issuer, /^urn:appia:/);
    assert.equal(disco.jwks_uri, `${appia.url}/.well-known/jwks.json`);
    const jwks = (await (await fetch(disco.jwks_uri)).json()) as any;
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0].d, undefined);
  });

  test('over the rate limit a user gets 429 with Retry-After, other users do not', async () => {
    const limited = await startTestAppia({ rateLimit: 5 });
    try {
      const t = await limited.token('alice');
      const statuses = await Promise.all(Array.from({ length: 12 }, () => limited.api(t, 'GET', '/beta/me/devices').then((r) => r)));
      const tooMany = statuses.filter((r) => r.status === 429);
      assert.ok(tooMany.length >= 1, 'some were limited');
      assert.equal(tooMany[0]!.body.error.code, 'TooManyRequests');
      assert.ok(Number(tooMany[0]!.headers.get('retry-after')) >= 1);
      const other = await limited.api(await limited.token('bob'), 'GET', '/beta/me/devices');
      assert.equal(other.status, 200);
    } finally {
      await limited.stop();
    }
  });
});
