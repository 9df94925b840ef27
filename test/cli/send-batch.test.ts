import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type DeviceConnection } from '../../src/device/index.js';
import { progressBar, summaryLine } from '../../src/cli/batch-summary.js';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { watchCli } from './support.js';

/**
 * `appia send --all` and `--devices` (DESIGN 9) as a user runs them: the real
 * bin in a child process, against a real server and devices connected with
 * the SDK. One device holds its command until the test has seen the live
 * summary, so the summary is shown while the batch runs, not afterwards.
 */

describe('the batch summary line', () => {
  test('reads like an operator counts a rollout: completed, failed, canceled, waiting', () => {
    const counts = { completed: 97, executionFailed: 2, failedToSend: 1, requesting: 12, sentToTarget: 5, executing: 3 };
    assert.equal(summaryLine({ total: 120, counts }), '120 devices: 97 completed, 3 failed, 20 waiting');
    assert.equal(summaryLine({ total: 1, counts: { requesting: 1 } }), '1 device: 0 completed, 1 waiting');
    assert.equal(summaryLine({ total: 3, counts: { completed: 1, canceled: 2 } }), '3 devices: 1 completed, 2 canceled');
    assert.equal(progressBar({ total: 4, counts: { completed: 1, expired: 1, requesting: 2 } }, 10), '[#####.....]  50%');
  });
});

describe('appia send --all / --devices', () => {
  let appia: TestAppia;
  let env: NodeJS.ProcessEnv;
  const devices: DeviceConnection[] = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));

  before(async () => {
    appia = await startTestAppia();
    const token = await appia.token('olga');
    env = { PATH: process.env['PATH'], APPIA_URL: appia.url, APPIA_TOKEN: token };
    const slow = await appia.addDevice(token, 'Slow PC');
    const quick = await appia.addDevice(token, 'Quick PC');
    const broken = await appia.addDevice(token, 'Broken PC');
    const handlers = (launch: () => Promise<object>) => ({ url: appia.url, reconnect: false as const, handlers: { LaunchUri: launch } });
    devices.push(await connect({ ...handlers(async () => (await released, { opened: true })), token: slow.deviceToken }));
    devices.push(await connect({ ...handlers(async () => ({ opened: true })), token: quick.deviceToken }));
    devices.push(
      await connect({
        ...handlers(async () => {
          throw new Error('no browser here');
        }),
        token: broken.deviceToken,
      }),
    );
  });
  after(async () => {
    await Promise.all(devices.map((d) => d.close()));
    await appia.stop();
  });

  const run = (args: readonly string[]) => watchCli(['send', ...args], env);

  test('--all --wait prints a plain summary line per change while the batch runs (no terminal: no bar), and exits 1 unless every device completed', async () => {
    const send = run(['--all', '--uri', 'https://example.com/notes', '--wait']);
    // the slow device still holds its command: this line came live
    await send.printed(/^3 devices: 1 completed, 1 failed, 1 waiting$/m);
    release();
    const { code, stdout } = await send.done();
    assert.equal(code, 1, stdout);
    const lines = stdout.trim().split('\n');
    assert.match(lines[0]!, /^Batch [0-9A-F]+ sent; waiting for every device/);
    assert.equal(lines.at(-1), '3 devices: 2 completed, 1 failed');
    assert.doesNotMatch(stdout, /\r|\x1b|\[#/);
  });

  test('--devices takes names or ids; --json prints the batch as the API returns it', async () => {
    const { code, stdout } = await run(['--devices', 'Quick PC,Slow PC', '--uri', 'https://example.com/', '--wait', '--json']).done();
    assert.equal(code, 0, stdout);
    const batch = JSON.parse(stdout);
    assert.deepEqual([batch.total, batch.counts, batch.done], [2, { completed: 2 }, true]);
    const unknown = await run(['--devices', 'Quick PC,Nobody', '--uri', 'https://example.com/']).done();
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no device is named "Nobody"/);
  });

  test('without --wait it prints the batch id and where it stands; a DEVICE and --all together is a usage error', async () => {
    const { code, stdout } = await run(['--all', '--kind', 'desktop', '--uri', 'https://example.com/']).done();
    assert.equal(code, 0);
    assert.match(stdout, /^Batch sent to 3 devices\.\nid\s+[0-9A-F]+\nstatus\s+3 devices: /);
    const both = await run(['Quick PC', '--all', '--uri', 'https://example.com/']).done();
    assert.equal(both.code, 2);
    assert.match(both.stderr, /not both/);
  });
});
