import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { openEmbeddedIssuer, type EmbeddedIssuer } from '../../src/auth/embedded-issuer.js';
import { createVerifier } from '../../src/auth/verifier.js';
import { rejectsWith, seconds, T0 } from './support.js';

async function withDataDir(run: (dataDir: string) => Promise<void>) {
  const dataDir = await mkdtemp(join(tmpdir(), 'appia-issuer-'));
  try {
    await run(dataDir);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

const verifierFor = (issuer: EmbeddedIssuer, now = () => T0) =>
  createVerifier({ issuer: issuer.issuer, audience: issuer.audience, keys: { kind: 'local', jwks: () => issuer.jwks() }, now });

test('a minted token verifies: the user is sub, with Device.Read and Device.Command for 24 h', async () => {
  await withDataDir(async (dataDir) => {
    const issuer = await openEmbeddedIssuer({ dataDir, now: () => T0 });
    assert.match(issuer.issuer, /^urn:appia:[0-9a-f-]{36}$/);
    assert.equal(issuer.audience, 'appia');

    const token = await issuer.mint({ user: 'alice' });
    const principal = await verifierFor(issuer).verify(`Bearer ${token}`);
    assert.equal(principal.userId, 'alice');
    assert.deepEqual([...principal.scopes].sort(), ['Device.Command', 'Device.Read']);
    assert.equal(principal.claims.exp, seconds(T0) + 24 * 3600);
    assert.equal(decodeProtectedHeader(token).kid, issuer.jwks().keys[0]!.kid);
  });
});

test('a token minted with chosen scopes and lifetime expires when it says', async () => {
  await withDataDir(async (dataDir) => {
    const issuer = await openEmbeddedIssuer({ dataDir, now: () => T0 });
    const token = await issuer.mint({ user: 'bob', scopes: ['Device.Read'], ttlSeconds: 60 });
    assert.deepEqual([...(await verifierFor(issuer).verify(`Bearer ${token}`)).scopes], ['Device.Read']);
    const twoHoursLater = verifierFor(issuer, () => T0 + 2 * 3600_000);
    await rejectsWith(twoHoursLater.verify(`Bearer ${token}`), 'invalidToken', /expired/, token);
  });
});

test('an app-only token minted for tests is refused as "Application: Not supported"', async () => {
  await withDataDir(async (dataDir) => {
    const issuer = await openEmbeddedIssuer({ dataDir, now: () => T0 });
    const token = await issuer.mint({ user: 'daemon-app', appOnly: true });
    assert.deepEqual(decodeJwt(token).roles, ['Device.Read', 'Device.Command']);
    await rejectsWith(verifierFor(issuer).verify(`Bearer ${token}`), 'forbidden', /Application: Not supported/, token);
  });
});

test('after a restart the issuer is the same, and tokens minted before it still verify', async () => {
  await withDataDir(async (dataDir) => {
    const before = await openEmbeddedIssuer({ dataDir, now: () => T0 });
    const token = await before.mint({ user: 'alice' });

    const after = await openEmbeddedIssuer({ dataDir, now: () => T0 });
    assert.equal(after.issuer, before.issuer);
    assert.equal(after.audience, before.audience);
    assert.deepEqual(after.jwks(), before.jwks());
    assert.equal((await verifierFor(after).verify(`Bearer ${token}`)).userId, 'alice');
  });
});

test('two processes starting on a fresh folder at once end up with one issuer', async () => {
  await withDataDir(async (dataDir) => {
    const [a, b] = await Promise.all([openEmbeddedIssuer({ dataDir }), openEmbeddedIssuer({ dataDir })]);
    assert.equal(a.issuer, b.issuer);
    assert.deepEqual(a.jwks(), b.jwks());
  });
});

test('the signing key file is readable by its owner only', { skip: process.platform === 'win32' }, async () => {
  await withDataDir(async (dataDir) => {
    await openEmbeddedIssuer({ dataDir });
    assert.equal((await stat(join(dataDir, 'issuer', 'signing-key.jwk'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dataDir, 'issuer'))).mode & 0o077, 0);
  });
});

test('a signing key that others can read is refused at open, naming the file', { skip: process.platform === 'win32' }, async () => {
  await withDataDir(async (dataDir) => {
    await openEmbeddedIssuer({ dataDir });
    const keyFile = join(dataDir, 'issuer', 'signing-key.jwk');
    await chmod(keyFile, 0o644);
    await assert.rejects(openEmbeddedIssuer({ dataDir }), (err: Error) => {
      assert.match(err.message, /signing-key\.jwk is readable by other users/);
      return true;
    });
  });
});

test('the JWKS holds the public key only', async () => {
  await withDataDir(async (dataDir) => {
    const issuer = await openEmbeddedIssuer({ dataDir });
    const { keys } = issuer.jwks();
    assert.equal(keys.length, 1);
    const [key] = keys;
    assert.equal(key!.d, undefined);
    assert.deepEqual(Object.keys(key!).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    const stored = JSON.parse(await readFile(join(dataDir, 'issuer', 'signing-key.jwk'), 'utf8'));
    assert.ok(!JSON.stringify(issuer.jwks()).includes(stored.d));
  });
});

test('the discovery document names the issuer and where its JWKS is served', async () => {
  await withDataDir(async (dataDir) => {
    const issuer = await openEmbeddedIssuer({ dataDir });
    const document = issuer.discovery('https://appia.example:8443/');
    assert.equal(document.issuer, issuer.issuer);
    assert.equal(document.jwks_uri, 'https://appia.example:8443/.well-known/jwks.json');
    assert.deepEqual(document.id_token_signing_alg_values_supported, ['ES256']);
  });
});

test('minting refuses a blank user, an invalid scope and an out-of-range lifetime', async () => {
  await withDataDir(async (dataDir) => {
    const issuer = await openEmbeddedIssuer({ dataDir });
    await assert.rejects(issuer.mint({ user: '' }), TypeError);
    await assert.rejects(issuer.mint({ user: ' alice' }), TypeError);
    await assert.rejects(issuer.mint({ user: 'alice', scopes: ['Device Read'] }), TypeError);
    await assert.rejects(issuer.mint({ user: 'alice', ttlSeconds: 0 }), RangeError);
    await assert.rejects(issuer.mint({ user: 'alice', ttlSeconds: 1.5 }), RangeError);
  });
});
