import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAuth, type Auth } from '../../src/auth/setup.js';
import { InProcessBus } from '../../src/bus/in-process.js';
import { parseConfig } from '../../src/config.js';
import { CommandCore } from '../../src/core/core.js';
import { buildApp, type App } from '../../src/http/app.js';
import { openSqliteStore } from '../../src/store/sqlite/store.js';

/**
 * DESIGN 8, APPIA_AUTH_FAILURE_LIMIT: failed authentications per second per
 * client address, then 429 with Retry-After, decided before any signature is
 * checked. The app runs on the real store, bus, core and embedded issuer,
 * with the limit's clock in the test's hands (a window boundary never falls
 * inside a story by chance).
 */
describe('failed authentications per client address', () => {
  const LIMIT = 3;
  let now = Date.UTC(2030, 0, 1, 12, 0, 0, 0);
  let dir: string;
  let auth: Auth;
  let app: App;
  let verifications = 0;
  let good: string;
  const store = openSqliteStore({ path: ':memory:' });
  const bus = new InProcessBus();
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'appia-authfail-'));
    const config = { ...parseConfig([], {}), dataDir: dir, logLevel: 'silent', authFailureLimit: LIMIT, rateLimit: 0 };
    auth = await openAuth(config);
    const core = new CommandCore({ store, bus, timings: config, log: { warn: () => {}, info: () => {} } });
    const authenticate = (header: string | undefined) => {
      verifications++;
      return auth.verifier.verify(header);
    };
    app = buildApp({ core, auth: { authenticate }, now: () => now }, config);
    good = await auth.mint!({ user: 'alice' });
  });
  after(async () => {
    await app.close();
    await bus.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const get = (token: string, remoteAddress = '192.0.2.10') =>
    app.inject({ method: 'GET', url: '/beta/me/devices', headers: { authorization: `Bearer ${token}` }, remoteAddress });
  const forged = () => `${good.slice(0, -6)}${good.endsWith('AAAAAA') ? 'BBBBBB' : 'AAAAAA'}`;

  test('after the limit of bad signatures in one second, the address gets 429 without any further signature check, good token or not', async () => {
    for (let i = 0; i < LIMIT; i++) assert.equal((await get(forged())).statusCode, 401);
    const checked = verifications;
    const blocked = await get(forged());
    assert.equal(blocked.statusCode, 429);
    assert.equal(blocked.json().error.code, 'TooManyRequests');
    assert.match(blocked.json().error.message, /failed authentications per second from this address/);
    assert.ok(Number(blocked.headers['retry-after']) >= 1);
    const goodButBlocked = await get(good);
    assert.equal(goodButBlocked.statusCode, 429, 'the address is refused before its token is looked at');
    assert.equal(verifications, checked, 'no signature was checked while the address was refused');

    assert.equal((await get(good, '192.0.2.11')).statusCode, 200, 'another address is not affected');
    now += 1000;
    assert.equal((await get(good)).statusCode, 200, 'the next second the address may try again');
  });

  test('IPv6 clients are counted by their /64, and an IPv4-mapped address as the IPv4 one', async () => {
    now += 1000;
    for (let i = 0; i < LIMIT; i++) assert.equal((await get(forged(), `2001:db8:1:2::${i + 1}`)).statusCode, 401);
    assert.equal((await get(good, '2001:db8:1:2:ffff::9')).statusCode, 429);
    assert.equal((await get(good, '2001:db8:1:3::1')).statusCode, 200);
    for (let i = 0; i < LIMIT; i++) await get(forged(), '::ffff:198.51.100.7');
    assert.equal((await get(good, '198.51.100.7')).statusCode, 429);
  });

  test('good tokens and refused app-only tokens (403) do not count as failed authentications', async () => {
    now += 1000;
    const appOnly = await auth.mint!({ user: 'daemon', appOnly: true });
    for (let i = 0; i < LIMIT + 2; i++) {
      assert.equal((await get(good, '192.0.2.20')).statusCode, 200);
      assert.equal((await get(appOnly, '192.0.2.20')).statusCode, 403);
    }
    assert.equal((await get(good, '192.0.2.20')).statusCode, 200);
  });
});
