import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { appiaCli, CliProcess, pathWithoutAppia } from '../cli/support.js';
import { startTestAppia, type TestAppia } from '../support/appia.js';

const SHOWN_CODE = /approve the code +([BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4})/;

/**
 * DESIGN 10 end to end: the real agent (node bin/appia.js agent --pair)
 * against a real server. It shows a code, its owner approves it with the
 * real CLI, the agent keeps the token it is handed (0600) and connects, a
 * command runs through it, and the next start needs no token at all.
 */
describe('appia agent --pair', () => {
  let appia: TestAppia;
  let scratch: string;
  let path: string;
  let owner: string;
  before(async () => {
    appia = await startTestAppia({ pairingIntervalMs: 1000 });
    owner = await appia.token('olga');
    scratch = await mkdtemp(join(tmpdir(), 'appia-pair-'));
    path = await pathWithoutAppia();
  });
  after(async () => {
    await appia.stop();
    await rm(scratch, { recursive: true, force: true });
    await rm(path, { recursive: true, force: true });
  });

  const cli = (args: string[], token = owner) => appiaCli(args, { PATH: path, APPIA_URL: appia.url, APPIA_TOKEN: token });
  const runCommand = async (deviceId: string) => {
    const created = await appia.api(owner, 'POST', `/beta/me/devices/${deviceId}/commands`, { type: 'LaunchUri', payload: { uri: 'https://example.com/paired' } }, { prefer: 'wait=10' });
    assert.equal(created.status, 201);
    return created.body;
  };

  test('pairs with a code approved by the CLI, keeps its token for its user only, runs commands, and the next start needs no token', async (t) => {
    const config = join(scratch, 'first', 'agent.json');
    const agent = new CliProcess(['agent', '--pair', '--name', 'Hall kiosk', '--dry-run', '--config', config], { PATH: path, APPIA_URL: appia.url });
    t.after(() => agent.kill());
    const [, code] = await agent.printed(SHOWN_CODE);
    await agent.printed(/Waiting for the approval/);
    // the link opens the console with the code filled in
    assert.match(agent.output, new RegExp(`in the console: +${appia.url}/#pair=${code}\n`));
    assert.match(agent.output, /The code expires in 10 minutes\./);
    assert.match(agent.output, new RegExp(`npx appia device approve ${code}`));

    const approved = await cli(['device', 'approve', code!.toLowerCase()]);
    assert.equal(approved.code, 0, approved.stderr);
    assert.match(approved.stdout, /^Device paired: Hall kiosk\nid +([0-9a-f-]{36})\n/);
    const deviceId = /id +([0-9a-f-]{36})/.exec(approved.stdout)![1]!;

    await agent.printed(new RegExp(`paired: this machine is device ${deviceId}`));
    await agent.printed(/ready: /);
    const saved = JSON.parse(await readFile(config, 'utf8'));
    assert.deepEqual(Object.keys(saved).sort(), ['deviceId', 'deviceToken', 'server']);
    assert.equal(saved.deviceId, deviceId);
    assert.match(saved.deviceToken, /^appia_dt_/);
    if (process.platform !== 'win32') {
      assert.equal((await stat(config)).mode & 0o777, 0o600);
      assert.equal((await stat(dirname(config))).mode & 0o777, 0o700);
    }
    assert.doesNotMatch(agent.output, new RegExp(saved.deviceToken), 'the token is never printed');

    assert.equal((await runCommand(deviceId)).status, 'completed');
    await agent.printed(/dry run: would open https:\/\/example\.com\/paired/);
    assert.equal(await agent.stop(), 0);

    // the next start: no --token; the config says the token and its server, whatever APPIA_URL says
    const again = new CliProcess(['agent', '--dry-run', '--config', config], { PATH: path, APPIA_URL: 'http://127.0.0.1:9' });
    t.after(() => again.kill());
    await again.printed(new RegExp(`connecting to ${appia.url} `));
    await again.printed(/ready: /);
    assert.equal((await runCommand(deviceId)).status, 'completed');
    assert.equal(await again.stop(), 0);
    const devices = (await appia.api(owner, 'GET', '/beta/me/devices')).body.value;
    assert.deepEqual(devices.map((d: { name: string }) => d.name), ['Hall kiosk'], 'one device, registered once');
  });

  test('a wrong code is refused by the CLI with exit 1 and the server\'s message; a code denied by the owner ends the agent with exit 1', async (t) => {
    const wrong = await cli(['device', 'approve', 'BCDF-GHJK']);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^error: itemNotFound: no device is waiting to pair with this code/);
    assert.equal((await cli(['device', 'approve'])).code, 2);

    const agent = new CliProcess(['agent', '--pair', '--dry-run', '--config', join(scratch, 'denied', 'agent.json')], { PATH: path, APPIA_URL: appia.url });
    t.after(() => agent.kill());
    const [, code] = await agent.printed(SHOWN_CODE);
    const denied = await cli(['device', 'deny', code!.replace('-', '')]);
    assert.equal(denied.code, 0, denied.stderr);
    assert.equal(await agent.exited, 1);
    assert.match(agent.output, /appia agent: the pairing was refused/);
    await assert.rejects(stat(join(scratch, 'denied', 'agent.json')), /ENOENT/, 'nothing is saved');
  });

  test('without a token or a saved config the agent says how to pair, exit 2', async () => {
    const run = await appiaCli(['agent', '--config', join(scratch, 'none', 'agent.json')], { PATH: path, APPIA_URL: appia.url });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /pair this machine with `npx appia agent --pair`/);
  });
});

describe('appia agent --pair when nobody approves', () => {
  test('the code expires, the agent says so and exits 1', async (t) => {
    const appia = await startTestAppia({ pairingIntervalMs: 1000, pairingTtlMs: 2500 });
    const path = await pathWithoutAppia();
    const scratch = await mkdtemp(join(tmpdir(), 'appia-pair-expiry-'));
    t.after(async () => {
      await appia.stop();
      await rm(scratch, { recursive: true, force: true });
      await rm(path, { recursive: true, force: true });
    });
    const agent = new CliProcess(['agent', '--pair', '--config', join(scratch, 'agent.json')], { PATH: path, APPIA_URL: appia.url });
    t.after(() => agent.kill());
    assert.equal(await agent.exited, 1);
    assert.match(agent.output, /appia agent: the code [A-Z]{4}-[A-Z]{4} expired before it was approved; pair again for a new one/);
  });
});
