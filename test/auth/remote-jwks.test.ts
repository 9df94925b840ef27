import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';
import { discoverIssuer } from '../../src/auth/discovery.js';
import { createRemoteJwks } from '../../src/auth/remote-jwks.js';
import { createVerifier, type Verifier } from '../../src/auth/verifier.js';
import { AUDIENCE, rejectsWith, T0, testSigner } from './support.js';

/**
 * A stand-in external issuer on loopback: discovery and JWKS, with keys the
 * test rotates, counting how often its keys are fetched.
 */
async function startIssuer() {
  let keys: JWK[] = [];
  let jwksFetches = 0;
  let down = false;
  let issuer = '';
  const server: Server = createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (down) return send(503, { error: 'down' });
    if (req.url === '/tenant/.well-known/openid-configuration') {
      return send(200, { issuer, jwks_uri: `${issuer}/keys`, id_token_signing_alg_values_supported: ['ES256'] });
    }
    if (req.url === '/tenant/keys') {
      jwksFetches += 1;
      return send(200, { keys });
    }
    send(404, {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}/tenant`;
  return {
    issuer,
    publish: (...next: JWK[]) => {
      keys = next;
    },
    setDown: (value: boolean) => {
      down = value;
    },
    fetches: () => jwksFetches,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A clock the test moves by hand, so cooldowns pass without sleeping. */
function manualClock() {
  let t = T0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

async function remoteVerifier(issuerUrl: string, now: () => number): Promise<Verifier> {
  const found = await discoverIssuer(issuerUrl);
  return createVerifier({ issuer: found.issuer, audience: AUDIENCE, keys: { kind: 'remote', jwksUrl: found.jwksUri, cooldownMs: 10_000 }, now });
}

test('discovery finds the JWKS, and a token signed with a published key is accepted', async (t) => {
  const idp = await startIssuer();
  t.after(idp.close);
  const clock = manualClock();
  const key = await testSigner('k1', clock.now);
  idp.publish(key.publicJwk);

  const found = await discoverIssuer(idp.issuer);
  assert.equal(found.jwksUri.href, `${idp.issuer}/keys`);
  assert.deepEqual(found.signingAlgorithms, ['ES256']);

  const verifier = await remoteVerifier(idp.issuer, clock.now);
  const principal = await verifier.verify(`Bearer ${await key.sign({ iss: idp.issuer, oid: 'alice-oid' })}`);
  assert.equal(principal.userId, 'alice-oid');
  await verifier.verify(`Bearer ${await key.sign({ iss: idp.issuer })}`);
  assert.equal(idp.fetches(), 1, 'the keys are cached between requests');
});

test('when the issuer rotates its key, the new kid is picked up without a restart, within the cooldown', async (t) => {
  const idp = await startIssuer();
  t.after(idp.close);
  const clock = manualClock();
  const oldKey = await testSigner('old', clock.now);
  const newKey = await testSigner('new', clock.now);
  idp.publish(oldKey.publicJwk);
  const verifier = await remoteVerifier(idp.issuer, clock.now);
  await verifier.verify(`Bearer ${await oldKey.sign({ iss: idp.issuer })}`);

  clock.advance(4_000);
  idp.publish(newKey.publicJwk, oldKey.publicJwk);
  clock.advance(1_000);
  // 5 s after the last fetch: still cooling down, so the unknown kid is refused without a fetch.
  const early = await newKey.sign({ iss: idp.issuer });
  await rejectsWith(verifier.verify(`Bearer ${early}`), 'invalidToken', /kid/, early);
  assert.equal(idp.fetches(), 1);

  clock.advance(5_000); // 10 s after the last fetch, 6 s after the key appeared
  const principal = await verifier.verify(`Bearer ${await newKey.sign({ iss: idp.issuer, sub: 'bob' })}`);
  assert.equal(principal.userId, 'bob');
  assert.equal(idp.fetches(), 2);
  await verifier.verify(`Bearer ${await oldKey.sign({ iss: idp.issuer })}`);

  // Once the old key is withdrawn and the cache ages out, its tokens stop working.
  idp.publish(newKey.publicJwk);
  clock.advance(600_000);
  const retired = await oldKey.sign({ iss: idp.issuer });
  await rejectsWith(verifier.verify(`Bearer ${retired}`), 'invalidToken', /kid/, retired);
});

test('tokens with made-up kids cause at most one JWKS fetch per cooldown', async (t) => {
  const idp = await startIssuer();
  t.after(idp.close);
  const clock = manualClock();
  const key = await testSigner('real', clock.now);
  idp.publish(key.publicJwk);
  const verifier = await remoteVerifier(idp.issuer, clock.now);
  await verifier.verify(`Bearer ${await key.sign({ iss: idp.issuer })}`);

  const attacker = await testSigner('x', clock.now);
  for (let i = 0; i < 20; i += 1) {
    const forged = await attacker.sign({ iss: idp.issuer }, { kid: `made-up-${i}` });
    await rejectsWith(verifier.verify(`Bearer ${forged}`), 'invalidToken', /kid/, forged);
    clock.advance(1_000);
  }
  // 20 s of one forged token a second: the first fetch, then one per 10 s window.
  assert.ok(idp.fetches() <= 3, `fetched ${idp.fetches()} times`);
});

test('concurrent requests with a new kid share one fetch', async (t) => {
  const idp = await startIssuer();
  t.after(idp.close);
  const clock = manualClock();
  const key = await testSigner('k', clock.now);
  idp.publish(key.publicJwk);
  const verifier = await remoteVerifier(idp.issuer, clock.now);
  const tokens = await Promise.all(Array.from({ length: 10 }, () => key.sign({ iss: idp.issuer })));
  await Promise.all(tokens.map((token) => verifier.verify(`Bearer ${token}`)));
  assert.equal(idp.fetches(), 1);
});

test('an issuer that cannot be reached is "unavailable" until it has given keys; then stale keys keep working', async (t) => {
  const idp = await startIssuer();
  t.after(idp.close);
  const clock = manualClock();
  const key = await testSigner('k', clock.now);
  idp.publish(key.publicJwk);
  const verifier = await remoteVerifier(idp.issuer, clock.now);

  idp.setDown(true);
  const token = await key.sign({ iss: idp.issuer });
  await rejectsWith(verifier.verify(`Bearer ${token}`), 'unavailable', /HTTP 503/, token);
  await rejectsWith(verifier.verify(`Bearer ${token}`), 'unavailable', /retrying shortly/, token);

  idp.setDown(false);
  clock.advance(10_000);
  await verifier.verify(`Bearer ${token}`);

  idp.setDown(true);
  clock.advance(700_000);
  await verifier.verify(`Bearer ${await key.sign({ iss: idp.issuer })}`);
});

test('discovery refuses a document naming another issuer, and plain http off loopback', async (t) => {
  const idp = await startIssuer();
  t.after(idp.close);
  await assert.rejects(discoverIssuer(`${idp.issuer}/`), /names issuer/);
  await assert.rejects(discoverIssuer('http://issuer.example/tenant'), /must be an https URL/);
  assert.throws(() => createRemoteJwks({ url: new URL('http://issuer.example/keys') }), /must be an https URL/);
});

test('a refetch cooldown over 30 s is refused (DESIGN 5: a new key within 30 s)', () => {
  assert.throws(() => createRemoteJwks({ url: new URL('https://issuer.example/keys'), cooldownMs: 30_001 }), RangeError);
});
