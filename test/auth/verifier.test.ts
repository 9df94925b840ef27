import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { createVerifier, requireScope, type Principal } from '../../src/auth/verifier.js';
import { AppiaError } from '../../src/domain/errors.js';
import { AUDIENCE, b64url, ISSUER, rejectsWith, seconds, T0, testSigner } from './support.js';

const signer = await testSigner('key-1');
const verifier = createVerifier({
  issuer: ISSUER,
  audience: AUDIENCE,
  keys: { kind: 'local', jwks: () => signer.jwks() },
  now: () => T0,
});
const bearer = (token: string) => `Bearer ${token}`;
const now = seconds(T0);

test('a valid token names its user by oid, and its scopes come from scp', async () => {
  const token = await signer.sign({ oid: 'user-oid', sub: 'user-sub', scp: 'Device.Read Device.Command' });
  const principal = await verifier.verify(bearer(token));
  assert.equal(principal.userId, 'user-oid');
  assert.deepEqual([...principal.scopes].sort(), ['Device.Command', 'Device.Read']);
  assert.equal(principal.claims.iss, ISSUER);
});

test('without oid the user is sub; with userClaim "sub" it is sub even when oid is there', async () => {
  const subOnly = await signer.sign({ sub: 'alice' });
  assert.equal((await verifier.verify(bearer(subOnly))).userId, 'alice');

  const bySub = createVerifier({ issuer: ISSUER, audience: AUDIENCE, keys: { kind: 'local', jwks: signer.jwks }, userClaim: 'sub', now: () => T0 });
  const both = await signer.sign({ sub: 'pairwise-sub', oid: 'object-id' });
  assert.equal((await bySub.verify(bearer(both))).userId, 'pairwise-sub');
});

test('the Bearer scheme is case-insensitive, and an aud list that includes ours is accepted', async () => {
  const token = await signer.sign({ aud: ['someone-else', AUDIENCE] });
  assert.equal((await verifier.verify(`bearer ${token}`)).userId, 'user-sub');
});

test('a missing, non-Bearer or malformed Authorization header is an invalid token', async () => {
  await rejectsWith(verifier.verify(undefined), 'invalidToken', /empty/);
  await rejectsWith(verifier.verify(''), 'invalidToken', /empty/);
  const token = await signer.sign({});
  await rejectsWith(verifier.verify(`Basic ${token}`), 'invalidToken', /Bearer/, token);
  await rejectsWith(verifier.verify(`Bearer ${token} extra`), 'invalidToken', /Bearer/, token);
  await rejectsWith(verifier.verify('Bearer not-a-jwt'), 'invalidToken', /malformed/);
  await rejectsWith(verifier.verify('Bearer a.b.c'), 'invalidToken', /malformed/);
  await rejectsWith(verifier.verify(`Bearer ${'a'.repeat(20_000)}.b.c`), 'invalidToken', /too long/);
});

test('an expired token is refused, unless it expired within the clock skew', async () => {
  const expired = await signer.sign({ iat: now - 7200, exp: now - 61 });
  await rejectsWith(verifier.verify(bearer(expired)), 'invalidToken', /expired/, expired);

  const justExpired = await signer.sign({ iat: now - 7200, exp: now - 30 });
  assert.equal((await verifier.verify(bearer(justExpired))).userId, 'user-sub');
});

test('a token not valid yet is refused beyond the clock skew and accepted within it', async () => {
  const future = await signer.sign({ nbf: now + 120 });
  await rejectsWith(verifier.verify(bearer(future)), 'invalidToken', /not yet valid/, future);

  const slightlyAhead = await signer.sign({ nbf: now + 30, iat: now + 30 });
  assert.equal((await verifier.verify(bearer(slightlyAhead))).userId, 'user-sub');
});

test('a token without exp is refused', async () => {
  const token = await signer.sign({ exp: undefined });
  await rejectsWith(verifier.verify(bearer(token)), 'invalidToken', /exp/, token);
});

test('a token whose payload was changed after signing is refused', async () => {
  const [header, payload, signature] = (await signer.sign({ sub: 'mallory' })).split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
  const forged = [header, b64url(JSON.stringify({ ...claims, sub: 'alice' })), signature].join('.');
  await rejectsWith(verifier.verify(bearer(forged)), 'invalidToken', /signature/, forged);
});

test('a token whose signature was changed is refused', async () => {
  const token = await signer.sign({});
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const bytes = Buffer.from(signature, 'base64url');
  bytes[10] = bytes[10]! ^ 0xff;
  const forged = [header, payload, bytes.toString('base64url')].join('.');
  await rejectsWith(verifier.verify(bearer(forged)), 'invalidToken', /signature/, forged);
});

test('an unsigned alg "none" token is refused', async () => {
  const claims = { iss: ISSUER, aud: AUDIENCE, sub: 'alice', scp: 'Device.Command', iat: now, exp: now + 3600 };
  for (const alg of ['none', 'None', 'NONE']) {
    const unsigned = `${b64url(JSON.stringify({ alg, typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}.`;
    await rejectsWith(verifier.verify(bearer(unsigned)), 'invalidToken', /algorithm/, unsigned);
  }
});

test('an HS256 token keyed with the public key (algorithm confusion) is refused', async () => {
  const publicKeyBytes = [
    new TextEncoder().encode(JSON.stringify(signer.publicJwk)),
    Buffer.from(signer.publicJwk.x!, 'base64url'),
  ];
  for (const secret of publicKeyBytes) {
    const token = await new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: 'alice', scp: 'Device.Command' })
      .setProtectedHeader({ alg: 'HS256', kid: signer.kid })
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(secret);
    await rejectsWith(verifier.verify(bearer(token)), 'invalidToken', /algorithm/, token);
  }
});

test('an allow-list can name asymmetric algorithms only', () => {
  for (const algorithms of [['none'], ['HS256'], ['ES256', 'HS512'], []]) {
    assert.throws(() => createVerifier({ issuer: ISSUER, audience: AUDIENCE, keys: { kind: 'local', jwks: signer.jwks }, algorithms }), RangeError);
  }
});

test('an algorithm outside a configured allow-list is refused', async () => {
  const rsaOnly = createVerifier({ issuer: ISSUER, audience: AUDIENCE, keys: { kind: 'local', jwks: signer.jwks }, algorithms: ['RS256'], now: () => T0 });
  const token = await signer.sign({});
  await rejectsWith(rsaOnly.verify(bearer(token)), 'invalidToken', /algorithm/, token);
});

test('a token from another issuer, or for another audience, is refused', async () => {
  const otherIssuer = await signer.sign({ iss: 'https://evil.test/' });
  await rejectsWith(verifier.verify(bearer(otherIssuer)), 'invalidToken', /issuer.*\(iss\)/, otherIssuer);
  const otherAudience = await signer.sign({ aud: 'https://graph.microsoft.com' });
  await rejectsWith(verifier.verify(bearer(otherAudience)), 'invalidToken', /audience/, otherAudience);
});

test('a token signed by a key the issuer does not publish is refused', async () => {
  const impostorSameKid = await testSigner('key-1');
  const forged = await impostorSameKid.sign({});
  await rejectsWith(verifier.verify(bearer(forged)), 'invalidToken', /signature/, forged);

  const impostorOwnKid = await testSigner('key-2');
  const unknownKid = await impostorOwnKid.sign({});
  await rejectsWith(verifier.verify(bearer(unknownKid)), 'invalidToken', /kid/, unknownKid);
});

test('an app-only token (roles, no scp) is forbidden: "Application: Not supported"', async () => {
  const appOnly = await signer.sign({ scp: undefined, roles: ['Device.Command'], idtyp: 'app' });
  await rejectsWith(verifier.verify(bearer(appOnly)), 'forbidden', /^Application: Not supported/, appOnly);
});

test('a delegated token with an empty scp is forbidden', async () => {
  const noScopes = await signer.sign({ scp: '' });
  await rejectsWith(verifier.verify(bearer(noScopes)), 'forbidden', /no scopes/, noScopes);
});

test('requireScope admits any one of the listed scopes and names the missing one otherwise', async () => {
  const readOnly: Principal = await verifier.verify(bearer(await signer.sign({ scp: 'Device.Read' })));
  requireScope(readOnly, ['Device.Read', 'Device.Command']);
  assert.throws(
    () => requireScope(readOnly, ['Device.Command']),
    (err: unknown) => err instanceof AppiaError && err.code === 'forbidden' && /Device\.Command/.test(err.message),
  );
});

test('a verified token is remembered, but never past its expiry, and a key swap applies within the cache time', async () => {
  let clock = T0;
  let keys = signer.jwks();
  const cached = createVerifier({ issuer: ISSUER, audience: AUDIENCE, keys: { kind: 'local', jwks: () => keys }, now: () => clock, clockToleranceSeconds: 0, cacheMs: 60_000 });
  const token = await signer.sign({ exp: now + 30 });
  assert.equal((await cached.verify(bearer(token))).userId, 'user-sub');

  // The issuer drops the key: the remembered token still works within the cache time...
  keys = (await testSigner('other-key')).jwks();
  clock = T0 + 10_000;
  assert.equal((await cached.verify(bearer(token))).userId, 'user-sub');
  // ...and its expiry still ends it, cache or not.
  clock = T0 + 31_000;
  await rejectsWith(cached.verify(bearer(token)), 'invalidToken', /expired|key/);

  // Past the cache time, a token is checked again against the current keys.
  const longLived = await signer.sign({ exp: now + 3600 });
  keys = signer.jwks();
  clock = T0;
  await cached.verify(bearer(longLived));
  keys = (await testSigner('other-key')).jwks();
  clock = T0 + 61_000;
  await rejectsWith(cached.verify(bearer(longLived)), 'invalidToken', /key/);
});
