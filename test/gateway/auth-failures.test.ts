import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { connectDevice, connectUrl, refusedUpgrade } from './support.js';

/** An upgrade with `token` that must be refused: its status, Retry-After and error. */
async function refused(url: string, token: string): Promise<{ status: number; retryAfter: string | undefined; code: string; message: string }> {
  const { status, retryAfter, body } = await refusedUpgrade(url, { authorization: `Bearer ${token}` });
  return { status, retryAfter, ...(body as { error: { code: string; message: string } }).error };
}

/**
 * DESIGN 8, APPIA_AUTH_FAILURE_LIMIT on the device endpoint: a client
 * address that fails the device-token check so many times in one second
 * gets 429 with Retry-After, before any token is looked up, until the
 * second is over. The limit's clock is the test's (a window boundary never
 * falls inside a story by chance); the server, store and sockets are real.
 */
describe('device gateway: failed device-token upgrades per client address', () => {
  const LIMIT = 3;
  let now = Date.UTC(2030, 0, 1, 12, 0, 0, 0);
  let appia: TestAppia;
  let deviceToken: string;
  before(async () => {
    appia = await startTestAppia({ pingIntervalMs: 0, authFailureLimit: LIMIT }, { now: () => now });
    ({ deviceToken } = await appia.addDevice(await appia.token('alice')));
  });
  after(() => appia.stop());

  it('after the limit of unknown tokens in one second, even a good token gets 429 with Retry-After; the next second it connects', async () => {
    const url = connectUrl(appia);
    for (let i = 0; i < LIMIT; i++) assert.equal((await refused(url, `appia_dt_guess${i}`)).status, 401);
    const blocked = await refused(url, deviceToken);
    assert.equal(blocked.status, 429);
    assert.equal(blocked.code, 'TooManyRequests');
    assert.match(blocked.message, /failed authentications per second from this address/);
    assert.ok(Number(blocked.retryAfter) >= 1, `Retry-After: ${blocked.retryAfter}`);
    assert.equal((await refused(url, 'appia_dt_another-guess')).status, 429);

    now += 1000;
    const device = await connectDevice(appia, deviceToken);
    assert.equal((await device.report({ t: 'state', state: 'active' })).t, 'ack');
    await device.close();
  });

  it('a good token does not count as a failure', async () => {
    now += 1000;
    for (let i = 0; i < LIMIT + 2; i++) {
      const device = await connectDevice(appia, deviceToken);
      await device.close();
    }
    assert.equal((await refused(connectUrl(appia), 'appia_dt_guess')).status, 401);
  });
});
