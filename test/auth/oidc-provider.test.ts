import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair, SignJWT } from 'jose';
import { discoverIssuer } from '../../src/auth/discovery.js';
import { createVerifier } from '../../src/auth/verifier.js';
import { AppiaError } from '../../src/domain/errors.js';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { APPIA_RESOURCE, OTHER_RESOURCE, startOidcProvider, type OidcProvider } from './oidc-provider-fixture.js';

/**
 * DESIGN 5 against a real, independent OpenID provider (oidc-provider, on
 * loopback) rather than tokens Appia signs itself: its discovery document,
 * its JWKS, its JWT access tokens (RFC 9068: the scopes in `scope`), its
 * app-only tokens, and its key rotation. Appia is configured with two
 * such issuers at once (APPIA_ISSUER comma-separated, one APPIA_AUDIENCE).
 */
describe('an external OpenID provider signs the tokens', () => {
  let primary: OidcProvider;
  let second: OidcProvider;
  let stranger: OidcProvider;
  let appia: TestAppia;
  before(async () => {
    [primary, second, stranger] = await Promise.all([startOidcProvider(), startOidcProvider(), startOidcProvider()]);
    appia = await startTestAppia({ issuers: [primary.issuer, second.issuer], audiences: [APPIA_RESOURCE] });
  });
  after(async () => {
    await appia?.stop();
    await Promise.all([primary, second, stranger].map((p) => p?.close()));
  });

  const devices = (token: string) => appia.api(token, 'GET', '/beta/me/devices');

  test("a user who signed in at the provider lists and registers their devices: the user is the token's sub, the scopes its scope", async () => {
    const token = await primary.userToken('alice');
    const registered = await appia.api(token, 'POST', '/beta/me/devices', { name: 'from the provider' });
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    const listed = await devices(token);
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.value.map((d: { id: string }) => d.id), [registered.body.id]);
    assert.match(listed.body['@odata.context'], /users\('alice'\)\/devices$/);
    const reader = await primary.userToken('alice', { scope: 'Device.Read' });
    assert.equal((await devices(reader)).status, 200);
    assert.equal((await appia.api(reader, 'POST', '/beta/me/devices', { name: 'x' })).status, 403, 'Device.Read alone cannot register');
  });

  test("the second issuer's users are its own: its alice is not the first issuer's alice", async () => {
    const theirs = await second.userToken('alice');
    const listed = await devices(theirs);
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    assert.deepEqual(listed.body.value, []);
    assert.ok(listed.body['@odata.context'].includes(encodeURIComponent(`${second.issuer}|alice`)));
    const mine = (await devices(await primary.userToken('alice'))).body.value[0];
    const probe = await appia.api(theirs, 'GET', `/beta/me/devices/${mine.id}`);
    assert.equal(probe.status, 404);
  });

  test('its client-credentials (app-only) token is refused 403: Application: Not supported', async () => {
    const res = await devices(await primary.appToken());
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, 'Authorization_RequestDenied');
    assert.match(res.body.error.message, /Application: Not supported/);
  });

  test('a token for another audience, an expired one, one signed by an unknown key, and one from an issuer not listed are 401', async () => {
    const now = Math.floor(Date.now() / 1000);
    const { privateKey } = await generateKeyPair('ES256');
    const unknownKey = await new SignJWT({ iss: primary.issuer, aud: APPIA_RESOURCE, sub: 'alice', scope: 'Device.Read', exp: now + 600 })
      .setProtectedHeader({ alg: 'ES256', kid: 'not-published' })
      .sign(privateKey);
    const cases: Array<[string, string, RegExp]> = [
      ['another audience', await primary.userToken('alice', { resource: OTHER_RESOURCE }), /another audience/],
      ['expired', await primary.signWithItsKey({ sub: 'alice', iat: now - 7200, exp: now - 3600 }), /expired/],
      ['an unknown key', unknownKey, /No signing key of the issuer matches/],
      ['an issuer not listed', await stranger.userToken('alice'), /issuer this server does not trust/],
    ];
    for (const [what, token, message] of cases) {
      const res = await devices(token);
      assert.equal(res.status, 401, what);
      assert.equal(res.body.error.code, 'InvalidAuthenticationToken', what);
      assert.match(res.body.error.message, message, what);
    }
  });
});

describe("the provider rotates its signing key: the new kid is accepted within the refetch rule, without a restart", () => {
  let provider: OidcProvider;
  before(async () => {
    provider = await startOidcProvider();
  });
  after(() => provider.close());

  test('a token signed by the new key is refused until the refetch cooldown has passed, then accepted; old tokens keep working', async () => {
    let skew = 0;
    const found = await discoverIssuer(provider.issuer);
    const verifier = createVerifier({
      issuer: found.issuer,
      audience: APPIA_RESOURCE,
      keys: { kind: 'remote', jwksUrl: found.jwksUri, cooldownMs: 10_000 },
      now: () => Date.now() + skew,
      cacheMs: 0,
    });
    const before = await provider.userToken('alice');
    assert.equal((await verifier.verify(`Bearer ${before}`)).userId, 'alice');

    const kid = await provider.rotate();
    const rotated = await provider.userToken('alice');
    assert.equal(JSON.parse(Buffer.from(rotated.split('.')[0]!, 'base64url').toString()).kid, kid);
    skew = 2_000; // within the cooldown of the last fetch: no new fetch, the kid is unknown
    await assert.rejects(
      verifier.verify(`Bearer ${rotated}`),
      (err: unknown) => err instanceof AppiaError && err.code === 'invalidToken' && /No signing key of the issuer matches/.test(err.message),
    );
    skew = 10_001; // DESIGN 5: at most 30 s after the key appears (here the 10 s cooldown)
    assert.equal((await verifier.verify(`Bearer ${rotated}`)).userId, 'alice');
    assert.equal((await verifier.verify(`Bearer ${before}`)).userId, 'alice', 'the old key is still published');
  });
});
