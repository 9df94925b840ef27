import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tcpConnect } from 'node:net';
import { connect, pairDevice, PairingError } from '../../src/device/index.js';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { TcpRelay } from '../support/tcp-relay.js';

/** DESIGN 10 through the SDK (`appia/device`): a device built on it pairs, then connects with the token it got. */
let appia: TestAppia;
let owner: string;
before(async () => {
  appia = await startTestAppia({ pairingIntervalMs: 1000 });
  owner = await appia.token('sam');
});
after(() => appia.stop());

test('pairDevice shows the code, and once its owner approves it resolves with a token the device connects with', async () => {
  const paired = pairDevice({
    url: `${appia.url}/`,
    device: { name: 'SDK kiosk', kind: 'Desktop', model: 'K1' },
    onCode: ({ userCode, verificationUri, expiresIn }) => {
      assert.equal(verificationUri, `${appia.url}/`);
      assert.equal(expiresIn, 600);
      void appia.api(owner, 'POST', '/beta/me/devicePairings', { userCode }).then((res) => assert.equal(res.status, 201));
    },
  });
  const { deviceId, deviceToken } = await paired;
  const device = await connect({ url: appia.url, token: deviceToken, keepAliveMs: 0 });
  try {
    const listed = (await appia.api(owner, 'GET', `/beta/me/devices/${deviceId}`)).body;
    assert.deepEqual([listed.name, listed.model], ['SDK kiosk', 'K1']);
  } finally {
    await device.close();
  }
});

test('a refused code rejects with PairingError; aborting stops the wait', async () => {
  const refused = pairDevice({
    url: appia.url,
    device: { name: 'Refused' },
    onCode: ({ userCode }) => void appia.api(owner, 'POST', '/beta/me/devicePairings/deny', { userCode }),
  });
  await assert.rejects(refused, (err) => err instanceof PairingError && /refused/.test(err.message));

  const abort = new AbortController();
  const waiting = pairDevice({ url: appia.url, device: { name: 'Abandoned' }, signal: abort.signal, onCode: () => abort.abort() });
  await assert.rejects(waiting, (err: Error) => err.name === 'AbortError');
});

test('a poll that cannot reach the server is made again until the code expires: a server gone for a while only delays the pairing', async (t) => {
  // the device reaches the server through a relay that stops listening once the code is shown
  const relay = new TcpRelay(() => tcpConnect(Number(new URL(appia.url).port), '127.0.0.1'));
  await relay.listen();
  t.after(() => relay.stop('close'));
  const unreachable: string[] = [];
  let gone: Promise<void> | undefined;
  let userCode = '';
  const paired = pairDevice({
    url: `http://127.0.0.1:${relay.port}`,
    device: { name: 'Through an outage' },
    onCode: (code) => {
      userCode = code.userCode;
      gone = relay.stop('reset');
    },
    onUnreachable: (reason) => unreachable.push(reason),
  });
  let settled = false;
  paired.then(
    () => void (settled = true),
    () => void (settled = true),
  );
  // two polls in the outage, unless the pairing ended (a failure, shown by `await paired` below)
  while (unreachable.length < 2 && !settled) await new Promise((resolve) => setTimeout(resolve, 50));
  if (settled) await paired;
  await gone;
  await relay.listen();
  const approved = await appia.api(owner, 'POST', '/beta/me/devicePairings', { userCode });
  assert.equal(approved.status, 201);
  const { deviceId } = await paired;
  assert.equal(deviceId, approved.body.id);
  assert.match(unreachable[0]!, new RegExp(`^cannot reach the Appia server at http://127.0.0.1:${relay.port} `));
});
