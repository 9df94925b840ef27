import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { connect, type DeviceConnection } from '../../src/device/index.js';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { appiaCli, pathWithoutAppia, type Run } from './support.js';

/**
 * `appia commands` and `appia cancel` as a user runs them: the real bin
 * against a real server, with a real SDK device where a device is needed.
 */

let appia: TestAppia;
let env: NodeJS.ProcessEnv;
let userToken: string;

before(async () => {
  appia = await startTestAppia();
  userToken = await appia.token('dora');
  env = { PATH: await pathWithoutAppia(), APPIA_URL: appia.url, APPIA_TOKEN: userToken };
});
after(async () => {
  await appia.stop();
  await rm(env['PATH']!, { recursive: true, force: true });
});

const cli = (...args: string[]): Promise<Run> => appiaCli(args, env);

async function sendUri(deviceId: string, uri: string): Promise<string> {
  const res = await appia.api(userToken, 'POST', `/beta/me/devices/${deviceId}/commands`, { type: 'LaunchUri', payload: { uri } });
  assert.equal(res.status, 201);
  return res.body.id as string;
}

/** the ID column of a table, header left out */
const ids = (run: Run) =>
  run.stdout
    .trim()
    .split('\n')
    .filter((l) => /^[0-9A-F]{44}\s/.test(l))
    .map((l) => l.split(/\s+/)[0]);

describe('appia commands', () => {
  test('lists a device\'s commands newest first; --status filters, --top pages, --all follows the pages, --json prints them', async () => {
    const { id } = await appia.addDevice(userToken, 'Shelf PC');
    const first = await sendUri(id, 'https://example.com/1');
    const second = await sendUri(id, 'https://example.com/2');
    const third = await sendUri(id, 'https://example.com/3');
    assert.equal((await cli('cancel', 'Shelf PC', second)).code, 0);

    const all = await cli('commands', 'Shelf PC');
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout.split('\n')[0]!, /^ID\s+TYPE\s+STATUS\s+CREATED\s+LAST MODIFIED$/);
    assert.deepEqual(ids(all), [third, second, first]);
    assert.match(all.stdout, new RegExp(`^${second}\\s+LaunchUri\\s+canceled\\s+\\d{4}-\\d\\d-\\d\\dT`, 'm'));

    const canceled = await cli('commands', 'Shelf PC', '--status', 'CANCELED');
    assert.deepEqual(ids(canceled), [second]);
    const waiting = await cli('commands', id, '--status', 'requesting');
    assert.deepEqual(ids(waiting), [third, first]);

    const page = await cli('commands', 'Shelf PC', '--top', '1');
    assert.deepEqual(ids(page), [third]);
    assert.match(page.stdout, /add --all to list them all/);
    const everyPage = await cli('commands', 'Shelf PC', '--top', '1', '--all');
    assert.deepEqual(ids(everyPage), [third, second, first]);
    assert.doesNotMatch(everyPage.stdout, /--all/);

    const json = JSON.parse((await cli('commands', 'Shelf PC', '--top', '2', '--json')).stdout);
    assert.deepEqual(json.value.map((c: { id: string }) => c.id), [third, second]);
    assert.match(json['@odata.nextLink'], /\$skiptoken=/);
  });

  test('an unknown --status or a bad --top is a usage error naming what is allowed (exit 2)', async () => {
    const status = await cli('commands', 'Shelf PC', '--status', 'done');
    assert.equal(status.code, 2);
    assert.match(status.stderr, /--status must be one of requesting, sentToTarget, .* \(got "done"\)/);
    const top = await cli('commands', 'Shelf PC', '--top', '0');
    assert.equal(top.code, 2);
    assert.match(top.stderr, /--top must be a whole number of at least 1/);
  });

  test('a device with no commands says so', async () => {
    await appia.addDevice(userToken, 'Empty PC');
    const run = await cli('commands', 'Empty PC');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^No commands yet\.$/m);
  });
});

describe('appia cancel', () => {
  test('a command the device never got is canceled at once; canceling it again is the server\'s conflict, exit 1', async () => {
    const { id } = await appia.addDevice(userToken, 'Attic PC');
    const commandId = await sendUri(id, 'https://example.com/attic');
    const run = await cli('cancel', 'Attic PC', commandId);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`^id\\s+${commandId}$`, 'm'));
    assert.match(run.stdout, /^status\s+canceled$/m);
    assert.equal((await appia.api(userToken, 'GET', `/beta/me/devices/${id}/commands/${commandId}`)).body.status, 'canceled');

    const again = await cli('cancel', 'Attic PC', commandId);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^error: conflict: .*canceled/m);

    const other = await sendUri(id, 'https://example.com/attic2');
    const json = JSON.parse((await cli('cancel', id, other, '--json')).stdout);
    assert.deepEqual([json.id, json.status], [other, 'canceled']);
  });

  test('--wait follows a running command until the device confirms the cancel, and exits 0', async (t) => {
    const { id, deviceToken } = await appia.addDevice(userToken, 'Cellar PC');
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const device: DeviceConnection = await connect({
      url: appia.url,
      token: deviceToken,
      reconnect: false,
      appServices: {
        // runs until canceled
        long: (_command, ctx) =>
          new Promise((_resolve, reject) => {
            started();
            ctx.signal.addEventListener('abort', () => reject(new Error('stopped')), { once: true });
          }),
      },
    });
    t.after(() => device.close());
    const res = await appia.api(userToken, 'POST', `/beta/me/devices/${id}/commands`, { type: 'AppService', appServiceName: 'long', packageFamilyName: 'p', payload: {} });
    const commandId = res.body.id as string;
    await running;

    const run = await cli('cancel', 'Cellar PC', commandId, '--wait');
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, new RegExp(`^Cancel of command ${commandId} asked \\(it is cancel(ling)?\\); waiting`, 'm'));
    const changes = run.stdout.split('\n').filter((l) => /^\s+\d\d:\d\d:\d\d\.\d{3}\s+\w+/.test(l)).map((l) => l.trim().split(/\s+/)[1]);
    assert.deepEqual(changes.slice(-3), ['cancel', 'cancelling', 'canceled']);
    assert.match(run.stdout, /^Status\s+canceled$/m);
  });

  test('cancel needs DEVICE and COMMAND (exit 2) and has its help', async () => {
    const missing = await cli('cancel', 'Attic PC');
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /usage: npx appia cancel DEVICE COMMAND/);
    const help = await cli('help', 'cancel');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--wait\s+stay until the command reaches its final status/);
  });
});
