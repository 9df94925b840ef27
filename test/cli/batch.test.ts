import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type DeviceConnection } from '../../src/device/index.js';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { watchCli } from './support.js';

/**
 * `appia batch` (DESIGN 9) as a user runs it on a batch sent some other way
 * (here the API): where it stands, followed with --wait, and cancelled. The
 * real bin in a child process, a real server and SDK devices; one device
 * holds its command until the test has seen the batch still running.
 */
describe('appia batch', () => {
  let appia: TestAppia;
  let token: string;
  let env: NodeJS.ProcessEnv;
  const devices: DeviceConnection[] = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let held!: () => void;
  const holding = new Promise<void>((resolve) => (held = resolve));
  let slowId = '';
  let quickId = '';

  before(async () => {
    appia = await startTestAppia();
    token = await appia.token('pia');
    env = { PATH: process.env['PATH'], APPIA_URL: appia.url, APPIA_TOKEN: token };
    const slow = await appia.addDevice(token, 'Slow PC');
    const quick = await appia.addDevice(token, 'Quick PC');
    [slowId, quickId] = [slow.id, quick.id];
    const launch = (run: () => Promise<object>) => ({ url: appia.url, reconnect: false as const, handlers: { LaunchUri: run } });
    devices.push(await connect({ ...launch(async () => (held(), await released, { opened: true })), token: slow.deviceToken }));
    devices.push(await connect({ ...launch(async () => ({ opened: true })), token: quick.deviceToken }));
  });
  after(async () => {
    release();
    await Promise.all(devices.map((d) => d.close()));
    await appia.stop();
  });

  const sendBatch = async (deviceIds: string[]) => {
    const created = await appia.api(token, 'POST', '/beta/me/commandBatches', { deviceIds, type: 'LaunchUri', payload: { uri: 'https://example.com/' } });
    assert.equal(created.status, 201);
    return String(created.body.id);
  };
  const run = (args: readonly string[]) => watchCli(['batch', ...args], env);

  test('shows where a running batch stands, then --wait follows it to the end and exits 0 when every command completed', async () => {
    const id = await sendBatch([slowId, quickId]);
    await holding;
    const shown = await run([id]).done();
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`^Batch\\s+${id}\\n`));
    assert.match(shown.stdout, /\nStatus\s+2 devices: \d completed, \d waiting\n/);
    assert.match(shown.stdout, /\nDone\s+no\n/);

    const follow = run([id, '--wait']);
    await follow.printed(/waiting/);
    release();
    const { code, stdout } = await follow.done();
    assert.equal(code, 0, stdout);
    assert.equal(stdout.trim().split('\n').at(-1), '2 devices: 2 completed');

    const json = await run([id, '--json']).done();
    const batch = JSON.parse(json.stdout);
    assert.deepEqual([batch.id, batch.total, batch.counts, batch.done], [id, 2, { completed: 2 }, true]);
  });

  test('batch cancel cancels what is not final yet: a device that is offline never gets it', async () => {
    const offline = await appia.addDevice(token, 'Offline PC');
    const id = await sendBatch([offline.id]);
    const { code, stdout } = await run(['cancel', id]).done();
    assert.equal(code, 0);
    assert.match(stdout, /\nStatus\s+1 device: 0 completed, 1 canceled\n/);
    const commands = (await appia.api(token, 'GET', `/beta/me/devices/${offline.id}/commands`)).body.value as { status: string }[];
    assert.deepEqual(
      commands.map((c) => c.status),
      ['canceled'],
    );
  });

  test('an unknown batch is an error (exit 1); a missing or extra id is a usage error (exit 2)', async () => {
    const unknown = await run(['01A0000000000000000000000000000000000000000']).done();
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^error: itemNotFound: command batch 01A0+ was not found\n$/);
    assert.equal((await run([]).done()).code, 2);
    assert.equal((await run(['a', 'b']).done()).code, 2);
    assert.equal((await run(['cancel', 'x', '--wait']).done()).code, 2);
  });
});
