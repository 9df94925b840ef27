import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type DeviceConnection } from '../../src/device/index.js';
import { startTestAppia, type TestAppia } from '../support/appia.js';
import { watchCli } from './support.js';

/**
 * `appia send --wait` as a user runs it: the real bin in a child process,
 * against a real server and a device connected with the SDK. The device
 * holds its command until the test has seen the progress printed, so the
 * test proves the changes are shown while they happen, not afterwards.
 */

describe('appia send --wait', () => {
  let appia: TestAppia;
  let env: NodeJS.ProcessEnv;
  let device: DeviceConnection;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));

  before(async () => {
    appia = await startTestAppia();
    const token = await appia.token('wendy');
    env = { PATH: process.env['PATH'], APPIA_URL: appia.url, APPIA_TOKEN: token };
    const { deviceToken } = await appia.addDevice(token, 'Study PC');
    device = await connect({
      url: appia.url,
      token: deviceToken,
      reconnect: false,
      appServices: {
        backup: async (_command, ctx) => {
          await ctx.progress('copying 1 of 2');
          await released;
          return { files: 2 };
        },
        broken: async () => {
          throw new Error('the disk is full');
        },
        quick: async (command) => ({ echo: command.payload }),
      },
    });
  });
  after(async () => {
    await device.close();
    await appia.stop();
  });

  const run = (args: readonly string[]) => watchCli(['send', 'Study PC', ...args], env);

  test('shows each status change as it happens, then the response payload, and exits 0', async () => {
    const send = run(['--app-service', 'backup', '--package', 'com.example.backup', '--wait']);
    await send.printed(/custom\s+copying 1 of 2/);
    // the device still holds the command: what was printed so far came live
    assert.doesNotMatch(send.output(), /completed/);
    release();
    const { code, stdout } = await send.done();
    assert.equal(code, 0, stdout);
    const lines = stdout.split('\n').filter((l) => /^\s+\d\d:\d\d:\d\d\.\d{3}\s+\w+/.test(l)).map((l) => l.trim().split(/\s+/)[1]);
    assert.deepEqual(lines, ['requesting', 'sentToTarget', 'executing', 'custom', 'completed']);
    assert.match(stdout, /Status\s+completed/);
    assert.match(stdout, /Response payload\s+\{"files":2\}/);
  });

  test('a command that fails is shown with its error, and the exit code is 1', async () => {
    const { code, stdout } = await run(['--app-service', 'broken', '--package', 'com.example.backup', '--wait']).done();
    assert.equal(code, 1);
    assert.match(stdout, /executionFailed/);
    assert.match(stdout, /Error\s+the disk is full/);
  });

  test('with --json it prints only the final command', async () => {
    const { code, stdout } = await run(['--app-service', 'quick', '--package', 'com.example.backup', '--payload', '{"n":7}', '--wait', '--json']).done();
    assert.equal(code, 0);
    const command = JSON.parse(stdout);
    assert.equal(command.status, 'completed');
    assert.deepEqual(command.responsePayload, { echo: { n: 7 } });
  });
});
