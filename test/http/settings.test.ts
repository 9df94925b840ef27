import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig, settingsHelp } from '../../src/config.js';

/** DESIGN 8: each limit has an env variable and a flag, its default, and 0 turns it off; DESIGN 5: several issuers. */
const LIMITS = [
  ['requestTimeoutMs', 'APPIA_REQUEST_TIMEOUT_MS', '--request-timeout-ms', 30000],
  ['authFailureLimit', 'APPIA_AUTH_FAILURE_LIMIT', '--auth-failure-limit', 30],
  ['maxDevicesPerUser', 'APPIA_MAX_DEVICES_PER_USER', '--max-devices-per-user', 1000],
  ['maxStreamsPerUser', 'APPIA_MAX_STREAMS_PER_USER', '--max-streams-per-user', 100],
  ['maxConnections', 'APPIA_MAX_CONNECTIONS', '--max-connections', 10000],
  ['pairingGuessLimit', 'APPIA_PAIRING_GUESS_LIMIT', '--pairing-guess-limit', 10],
] as const;

test('DESIGN 10: a pairing code lasts APPIA_PAIRING_TTL_MS (default 10 minutes) and the device polls every APPIA_PAIRING_INTERVAL_MS (5 s); neither can be 0', () => {
  const defaults = parseConfig([], {});
  assert.deepEqual([defaults.pairingTtlMs, defaults.pairingIntervalMs], [600_000, 5000]);
  assert.equal(parseConfig(['--pairing-ttl-ms', '120000'], {}).pairingTtlMs, 120_000);
  assert.equal(parseConfig([], { APPIA_PAIRING_INTERVAL_MS: '2000' }).pairingIntervalMs, 2000);
  assert.throws(() => parseConfig(['--pairing-ttl-ms', '0'], {}), /--pairing-ttl-ms must be at least 1000/);
  assert.throws(() => parseConfig([], { APPIA_PAIRING_INTERVAL_MS: '0' }), /APPIA_PAIRING_INTERVAL_MS must be at least 1000/);
});

test('every new limit has its DESIGN 8 default, is set by its variable or its flag (the flag wins), and 0 is accepted as off', () => {
  const defaults = parseConfig([], {});
  const help = settingsHelp();
  for (const [key, env, flag, def] of LIMITS) {
    assert.equal(defaults[key], def, key);
    assert.equal(parseConfig([], { [env]: '7' })[key], 7, env);
    assert.equal(parseConfig([flag, '9'], { [env]: '7' })[key], 9, flag);
    assert.equal(parseConfig([`${flag}=0`], {})[key], 0, `${flag}=0`);
    assert.throws(() => parseConfig([flag, '-1'], {}), ConfigError);
    assert.ok(help.includes(flag) && help.includes(env), `appia serve --help lists ${flag}`);
  }
});

test('APPIA_ISSUER takes several issuers; APPIA_AUDIENCE is one for all or one per issuer, and anything else stops the start naming it', () => {
  const one = parseConfig([], { APPIA_ISSUER: 'https://a.test/, https://b.test/realms/x', APPIA_AUDIENCE: 'api://appia' });
  assert.deepEqual(one.issuers, ['https://a.test/', 'https://b.test/realms/x']);
  assert.deepEqual(one.audiences, ['api://appia']);
  const each = parseConfig(['--issuer', 'https://a.test/,https://b.test/', '--audience', 'api://a,api://b'], {});
  assert.deepEqual(each.audiences, ['api://a', 'api://b']);
  assert.deepEqual(parseConfig([], {}).issuers, [], 'none: the embedded issuer');
  for (const [env, message] of [
    [{ APPIA_ISSUER: 'https://a.test/' }, /APPIA_AUDIENCE is required/],
    [{ APPIA_ISSUER: 'https://a.test/,https://b.test/,https://c.test/', APPIA_AUDIENCE: 'x,y' }, /2 audiences for 3 issuers/],
    [{ APPIA_ISSUER: 'https://a.test/,https://a.test/', APPIA_AUDIENCE: 'x' }, /lists https:\/\/a\.test\/ twice/],
    [{ APPIA_AUDIENCE: 'x' }, /without APPIA_ISSUER/],
  ] as const) {
    assert.throws(() => parseConfig([], env), (err: unknown) => err instanceof ConfigError && message.test(err.message));
  }
});
