import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEmbeddedIssuer } from '../../src/auth/embedded-issuer.js';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { spawnServer } from '../support/spawn.js';
import { FAST, RawDevice, worldOn, type World } from './helpers.js';

/**
 * Timers live in the store (a due time on the command), not in a process:
 * whatever a stopped, or killed, server was waiting for, the next server on
 * the same data folder does when it comes due.
 */
describe('timers survive a restart', () => {
  let dataDir: string;
  let token: string;
  const running: TestAppia[] = [];
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'appia-restart-'));
    token = await (await openEmbeddedIssuer({ dataDir })).mint({ user: 'restart-user' });
  });
  after(async () => {
    for (const appia of running) await appia.close().catch(() => {});
    await rm(dataDir, { recursive: true, force: true });
  });

  async function serve(settings = FAST): Promise<World> {
    const appia = await startTestAppia(settings, { dataDir });
    running.push(appia);
    return worldOn(appia, token);
  }

  test('a receipt timer of a server that was killed fires on the next server: retry, then the device gets it again', async () => {
    // The first server is a separate process, killed with SIGKILL while it waits for the device's
    // receipt: it has no chance to do any disconnect work, so only the stored timer remains.
    const first = await spawnServer(dataDir, ['--receipt-timeout-ms', '300', '--retry-base-ms', '50']);
    const api = (method: string, path: string, body?: unknown) =>
      fetch(first.url + path, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) }).then((r) => r.json() as Promise<any>);
    const device = await api('POST', '/beta/me/devices', { name: 'crash test' });
    let raw = await RawDevice.connect(first.url, device.deviceToken);
    const { id } = await api('POST', `/beta/me/devices/${device.id}/commands`, { type: 'LaunchUri', payload: { uri: 'https://e.test/' } });
    await raw.command(id);
    first.child.kill('SIGKILL');
    await new Promise((resolve) => first.child.once('exit', resolve));
    raw.close();

    const w = await serve();
    await w.reach(device.id, id, 'retry');
    const history = await w.history(device.id, id);
    assert.deepEqual(history.map((h) => h.status), ['requesting', 'sentToTarget', 'retry']);
    assert.match(history[2]!.detail ?? '', /receipt timeout/);

    raw = await RawDevice.connect(w.appia.url, device.deviceToken);
    await raw.command(id);
    await raw.acked({ t: 'received', id });
    assert.deepEqual(await w.statuses(device.id, id), ['requesting', 'sentToTarget', 'retry', 'sentToTarget', 'executing']);
    raw.close();
    await w.appia.close();
  });

  test('an expiry and a cancel timeout pending when the server stops fire on the next one', async () => {
    const slow = { ...FAST, cancelTimeoutMs: 1_000 };
    let w = await serve(slow);
    const waiting = await w.device('never connects');
    const expiring = await w.create(waiting.id, { type: 'LaunchUri', payload: { uri: 'https://e.test/' }, expirationDateTime: new Date(Date.now() + 1_000).toISOString() });

    const quiet = await w.device('ignores the cancel');
    const raw = await quiet.connect();
    const { id: cancelling } = await w.create(quiet.id);
    await raw.command(cancelling);
    await raw.acked({ t: 'received', id: cancelling });
    await w.appia.api(token, 'POST', `/beta/me/devices/${quiet.id}/commands/${cancelling}/cancel`);
    await raw.cancelFrame(cancelling);
    await w.reach(quiet.id, cancelling, 'cancelling');
    assert.equal((await w.get(waiting.id, expiring.id)).status, 'requesting');
    raw.close();
    await w.appia.close();

    w = await serve(slow);
    await w.reach(waiting.id, expiring.id, 'expired');
    await w.reach(quiet.id, cancelling, 'canceled');
    assert.deepEqual(await w.statuses(waiting.id, expiring.id), ['requesting', 'expired']);
    const history = await w.history(quiet.id, cancelling);
    assert.deepEqual(history.map((h) => h.status), ['requesting', 'sentToTarget', 'executing', 'cancel', 'cancelling', 'canceled']);
    assert.match(history.at(-1)!.detail ?? '', /cancel timeout/);
    await w.appia.close();
  });

  test('a command whose receipt was cut short by the shutdown is sent again when its device connects to the next server', async () => {
    let w = await serve();
    const device = await w.device();
    let raw = await device.connect();
    const { id } = await w.create(device.id);
    await raw.command(id);
    await w.appia.close(); // closes the device's connection before its receipt
    raw.close();

    w = await serve();
    raw = await RawDevice.connect(w.appia.url, device.deviceToken);
    await raw.command(id);
    await raw.acked({ t: 'received', id });
    const history = await w.history(device.id, id);
    assert.deepEqual(history.map((h) => h.status), ['requesting', 'sentToTarget', 'retry', 'sentToTarget', 'executing']);
    raw.close();
    await w.appia.close();
  });
});
