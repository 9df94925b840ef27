import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { connectDevice, connectUrl, refusedUpgrade } from './support.js';

// DESIGN 4: GET /devices/connect, authenticated by device token at the upgrade.
describe('device gateway: the upgrade', () => {
  let appia: TestAppia;
  let user: string;
  before(async () => {
    appia = await startTestAppia({ pingIntervalMs: 0 });
    user = await appia.token('alice');
  });
  after(() => appia.stop());

  it('refuses a missing, unknown or malformed device token with 401', async () => {
    const url = connectUrl(appia);
    for (const headers of [{} as Record<string, string>, { authorization: 'Bearer appia_dt_not-a-real-token' }, { authorization: 'Basic abc' }]) {
      const refused = await refusedUpgrade(url, headers);
      assert.equal(refused.status, 401, JSON.stringify(headers));
      assert.equal(refused.body.error.code, 'InvalidAuthenticationToken');
    }
    const viaProtocol = await refusedUpgrade(url, {}, ['appia.v1', 'token.appia_dt_unknown']);
    assert.equal(viaProtocol.status, 401);
  });

  it("refuses a removed device's token with 401 and closes its live connection", async () => {
    const { id, deviceToken } = await appia.addDevice(user);
    const device = await connectDevice(appia, deviceToken);
    assert.equal((await appia.api(user, 'DELETE', `/beta/me/devices/${id}`)).status, 204);
    assert.equal((await device.closed).code, 4001);
    assert.equal((await refusedUpgrade(connectUrl(appia), { authorization: `Bearer ${deviceToken}` })).status, 401);
  });

  it('accepts the token in the Authorization header', async () => {
    const { deviceToken } = await appia.addDevice(user);
    const device = await connectDevice(appia, deviceToken);
    assert.equal((await device.report({ t: 'state', state: 'active' })).t, 'ack');
    await device.close();
  });

  it('accepts the token as a browser subprotocol and selects appia.v1', async () => {
    const { deviceToken } = await appia.addDevice(user);
    const device = await connectDevice(appia, deviceToken, { via: 'protocol' });
    assert.equal(device.ws.protocol, 'appia.v1');
    assert.equal((await device.report({ t: 'state', state: 'active' })).t, 'ack');
    await device.close();
  });

  it('asks for appia.v1 beside a token subprotocol (400)', async () => {
    const { deviceToken } = await appia.addDevice(user);
    assert.equal((await refusedUpgrade(connectUrl(appia), {}, [`token.${deviceToken}`])).status, 400);
  });

  it('answers 404 for a WebSocket upgrade on any other path', async () => {
    const { deviceToken } = await appia.addDevice(user);
    const refused = await refusedUpgrade(appia.url.replace(/^http/, 'ws') + '/devices/elsewhere', { authorization: `Bearer ${deviceToken}` });
    assert.equal(refused.status, 404);
  });
});
